// Pagebridge dispatcher console and hardware page: live over the app's
// WebSocket (app.js passes every frame on as a 'pb:frame' event). Frames
// say only what changed; the page fetches the rest. Every text is set
// with textContent.
(function () {
  'use strict';

  var page = document.body.dataset.page;
  var idPattern = /^[0-9A-HJKMNP-TV-Z]{26}$/;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  // initials of a name, titles left out ("Dr Amara Okafor" → "AO").
  function initials(name) {
    var words = String(name || '?').split(/\s+/).filter(function (w) { return w && !/^(dr|prof)\.?$/i.test(w); });
    return words.slice(0, 2).map(function (w) { return w.charAt(0).toUpperCase(); }).join('') || '?';
  }
  function clear(e) { while (e.firstChild) { e.removeChild(e.firstChild); } }
  function clock(iso) {
    if (!iso) { return ''; }
    var d = new Date(iso);
    if (isNaN(d.getTime()) || d.getFullYear() < 2000) { return ''; }
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  }
  function getJSON(url, then) {
    fetch(url, { credentials: 'same-origin' }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) { then(d); } }, function () { /* offline: the next frame retries */ });
  }
  // later runs fn once, a moment after the last call (frames come in
  // bursts: one fetch for a burst).
  function later(fn, ms) {
    var t = null;
    return function () {
      if (t) { clearTimeout(t); }
      t = setTimeout(function () { t = null; fn(); }, ms);
    };
  }

  if (page === 'dispatch') { console_(); }
  if (page === 'hardware') { hardware(); }
  if (page === 'thread') { answer(); }

  // A page's thread: the answer this person gave, if any.
  function answer() {
    var thread = document.body.dataset.thread;
    var mine = document.getElementById('my-answer');
    if (!mine || !idPattern.test(thread)) { return; }
    getJSON('/app/threads/' + thread + '/answer.json', function (d) {
      var words = { responding: 'You are responding.', cannot: "You said you can't respond." };
      mine.textContent = words[d.answer] || '';
      ['responding', 'cannot'].forEach(function (a) {
        var b = document.getElementById(a);
        if (b) { b.classList.toggle('chosen', d.answer === a); }
      });
    });
  }

  function console_() {
    var card = document.getElementById('roster-card');
    var focus = card.dataset.page || '';

    function rosterRow(r) {
      var li = el('li', 'responder' + (r.answer ? ' ' + r.answer : '') + (r.acked ? ' acked' : ''));
      li.dataset.person = r.person;
      var av = el('span', 'avatar', initials(r.name || r.person));
      li.appendChild(av);
      var who = el('div', 'who');
      who.appendChild(el('b', '', r.name));
      who.appendChild(el('span', 'small', (r.channels || []).join(' · ')));
      li.appendChild(who);
      var badges = el('div', 'badges');
      if (r.acked) { badges.appendChild(el('span', 'badge acked', 'acknowledged')); }
      if (r.answer === 'responding') { badges.appendChild(el('span', 'badge responding', 'responding ' + clock(r.answer_at))); }
      if (r.answer === 'cannot') { badges.appendChild(el('span', 'badge cannot', "can't respond " + clock(r.answer_at))); }
      if (!r.acked && !r.answer) { badges.appendChild(el('span', 'badge state ' + r.delivery, r.delivery)); }
      li.appendChild(badges);
      return li;
    }
    function loadRoster() {
      if (!idPattern.test(focus)) { return; }
      getJSON('/app/dispatch/pages/' + focus + '/roster.json', function (d) {
        card.hidden = false;
        var p = d.page;
        document.getElementById('roster-title').textContent = (p.priority === 'critical' ? 'Critical · ' : '') + (p.label || p.pager_id);
        var st = document.getElementById('roster-state');
        st.className = 'state ' + p.state;
        st.textContent = p.state;
        document.getElementById('roster-meta').textContent = 'pager ID ' + p.pager_id + ' · from ' + p.source + ' · started ' + clock(p.start) +
          (p.acked_by ? ' · acknowledged by ' + p.acked_by : '');
        var n = { acked: 0, responding: 0, cannot: 0 };
        var list = document.getElementById('roster');
        clear(list);
        d.responders.forEach(function (r) {
          if (r.acked) { n.acked++; }
          if (r.answer === 'responding') { n.responding++; }
          if (r.answer === 'cannot') { n.cannot++; }
          list.appendChild(rosterRow(r));
        });
        document.getElementById('n-reached').textContent = d.responders.length;
        document.getElementById('n-acked').textContent = n.acked;
        document.getElementById('n-responding').textContent = n.responding;
        document.getElementById('n-cannot').textContent = n.cannot;
      });
    }
    function pageRow(p) {
      var tr = el('tr', 'prio-' + p.priority + (p.id === focus ? ' focus' : ''));
      tr.dataset.id = p.id;
      var t = el('td');
      var time = el('time', '', clock(p.start));
      time.dateTime = p.start;
      t.appendChild(time);
      tr.appendChild(t);
      tr.appendChild(el('td', '', p.pager_id));
      tr.appendChild(el('td', '', p.label));
      var pr = el('td');
      pr.appendChild(el('span', 'prio', p.priority));
      tr.appendChild(pr);
      tr.appendChild(el('td', '', p.source));
      var s = el('td');
      s.appendChild(el('span', 'state ' + p.state, p.state));
      tr.appendChild(s);
      tr.appendChild(el('td', '', p.reached));
      tr.appendChild(el('td', '', p.responding));
      return tr;
    }
    function loadPages() {
      getJSON('/app/dispatch/pages.json', function (d) {
        var tbody = document.querySelector('#pages tbody');
        clear(tbody);
        d.pages.forEach(function (p) { tbody.appendChild(pageRow(p)); });
        if (!d.pages.length) {
          var tr = el('tr', 'empty');
          var td = el('td', '', 'No pages yet.');
          td.colSpan = 8;
          tr.appendChild(td);
          tbody.appendChild(tr);
        }
      });
    }
    var pagesLater = later(loadPages, 250);
    var rosterLater = later(loadRoster, 100);

    document.querySelector('#pages tbody').addEventListener('click', function (e) {
      var tr = e.target.closest('tr[data-id]');
      if (!tr || !idPattern.test(tr.dataset.id)) { return; }
      focus = tr.dataset.id;
      card.dataset.page = focus;
      history.replaceState(null, '', '/app/dispatch?page=' + focus);
      var rows = document.querySelectorAll('#pages tr.focus');
      for (var i = 0; i < rows.length; i++) { rows[i].classList.remove('focus'); }
      tr.classList.add('focus');
      loadRoster();
      card.scrollIntoView({ behavior: 'smooth', block: 'start' });
    });

    document.addEventListener('pb:frame', function (e) {
      var ev = e.detail;
      if (ev.type === 'page') {
        if (ev.page === focus) { rosterLater(); }
        pagesLater();
      }
      if (ev.type === 'resync') { loadRoster(); loadPages(); }
    });
    loadRoster();

    // On-call lookup.
    var role = document.getElementById('oncall-role');
    function people(ul, list) {
      clear(ul);
      if (!list.length) { ul.appendChild(el('li', 'small', 'nobody')); }
      list.forEach(function (p) {
        var li = el('li');
        li.appendChild(el('b', '', p.name || p.person));
        li.appendChild(el('span', 'presence ' + p.presence, p.presence));
        var detail = clock(p.since) + '–' + clock(p.until);
        if (p.forward_to) { detail += ' · forwarded to ' + p.forward_to; }
        li.appendChild(el('span', 'small', ' ' + detail + ' · ' + p.reason));
        ul.appendChild(li);
      });
    }
    role.addEventListener('change', function () {
      if (!role.value) { document.getElementById('oncall').hidden = true; return; }
      getJSON('/app/dispatch/oncall.json?role=' + encodeURIComponent(role.value), function (v) {
        document.getElementById('oncall').hidden = false;
        people(document.getElementById('oncall-now'), v.now);
        people(document.getElementById('oncall-next'), v.next);
      });
    });
  }

  function hardware() {
    var bars = function (n) {
      var s = el('span', 'bars b' + n);
      for (var i = 0; i < 4; i++) { s.appendChild(el('i')); }
      return s;
    };
    // dl lists [label, value] pairs; a [group] alone heads those after it.
    function dl(pairs) {
      var d = el('dl');
      pairs.forEach(function (p) {
        if (p.length === 1) { d.appendChild(el('dt', 'group', p[0])); return; }
        if (p[1] === '' || p[1] === undefined || p[1] === null) { return; }
        d.appendChild(el('dt', '', p[0]));
        d.appendChild(el('dd', '', p[1]));
      });
      return d;
    }
    function deviceNode(v) {
      var a = el('article', 'device ' + v.State);
      a.dataset.device = v.ID;
      var h = el('header');
      h.appendChild(el('b', '', v.ID));
      h.appendChild(document.createTextNode(' '));
      h.appendChild(el('span', 'kind', v.Kind));
      h.appendChild(document.createTextNode(' '));
      h.appendChild(el('span', 'state ' + v.State, v.State));
      a.appendChild(h);
      if (v.Signal >= 0) {
        var sig = el('div', 'signal');
        sig.title = 'signal ' + v.Signal + '/31';
        sig.appendChild(bars(v.Bars));
        sig.appendChild(document.createTextNode(' ' + v.Signal + '/31'));
        a.appendChild(sig);
      }
      var pairs = [['Network', v.Registration], ['Operator', v.Operator], ['SIM', v.SIM], ['Queue', String(v.Queue)],
        ['Done / failed', v.Done + ' / ' + v.Failed], ['Since', clock(v.Since)]];
      var group = '';
      (v.Extra || []).forEach(function (f) {
        if (f.Group && f.Group !== group) { group = f.Group; pairs.push([group]); }
        pairs.push([f.Label, f.Value]);
      });
      a.appendChild(dl(pairs));
      if (v.Error) { a.appendChild(el('p', 'error small', v.Error)); }
      return a;
    }
    function agentNode(ag) {
      var s = el('section', 'card agent ' + ag.State);
      s.dataset.agent = ag.ID;
      var h = el('div', 'agent-head');
      h.appendChild(el('h2', '', ag.ID));
      h.appendChild(el('span', 'state ' + ag.State, ag.State));
      h.appendChild(el('span', 'small', 'version ' + ag.Version + ' · last heard ' + clock(ag.Updated) + ' · in flight ' + ag.InFlight + ' · holding ' + ag.Pending));
      s.appendChild(h);
      var ds = el('div', 'devices');
      (ag.Devices || []).forEach(function (v) { ds.appendChild(deviceNode(v)); });
      if (!(ag.Devices || []).length) { ds.appendChild(el('p', 'small', 'No devices configured.')); }
      s.appendChild(ds);
      return s;
    }
    function load() {
      getJSON('/app/hardware.json', function (d) {
        var box = document.getElementById('agents');
        clear(box);
        d.agents.forEach(function (ag) { box.appendChild(agentNode(ag)); });
        if (!d.agents.length) {
          var c = el('section', 'card');
          c.appendChild(el('p', '', 'No agent has reported yet.'));
          box.appendChild(c);
        }
      });
    }
    var loadLater = later(load, 250);
    document.addEventListener('pb:frame', function (e) {
      if (e.detail.type === 'hardware' || e.detail.type === 'resync') { loadLater(); }
    });
  }
}());
