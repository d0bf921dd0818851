// Pagebridge web app: live inbox and threads over one WebSocket.
// Every text from the server is set with textContent, never parsed as
// HTML; the page carries no inline script (Content-Security-Policy).
(function () {
  'use strict';

  var body = document.body;
  var me = body.dataset.person || '';
  var threadID = body.dataset.thread || '';
  var idPattern = /^[0-9A-HJKMNP-TV-Z]{26}$/;

  // Times: shown in the browser's own time zone.
  function clock(iso) {
    if (!iso) { return ''; }
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return ''; }
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  }
  function timeNode(iso) {
    var t = document.createElement('time');
    t.dateTime = iso;
    t.textContent = clock(iso);
    return t;
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function localTimes() {
    var ts = document.querySelectorAll('time[datetime]');
    for (var i = 0; i < ts.length; i++) {
      var s = clock(ts[i].getAttribute('datetime'));
      if (s) { ts[i].textContent = s; }
    }
  }

  // Compose: a template fills the message box.
  var tpl = document.getElementById('template');
  if (tpl) {
    tpl.addEventListener('change', function () {
      var opt = tpl.options[tpl.selectedIndex];
      var text = opt && opt.getAttribute('data-text');
      if (text) { document.getElementById('text').value = text; }
    });
  }

  localTimes();
  if (!me) { return; } // signed out pages: no socket

  // Signed out (revoked, idle, everywhere): drop everything this tab
  // holds and go to the sign-in page.
  var leaving = false;
  function signedOut(reason) {
    if (leaving) { return; }
    leaving = true;
    try { sessionStorage.clear(); } catch (e) { /* storage off */ }
    while (body.firstChild) { body.removeChild(body.firstChild); }
    var why = 'expired';
    if (reason === 'revoked') { why = 'revoked'; }
    if (reason === 'signed out everywhere') { why = 'everyone'; }
    if (reason === 'signed out') { why = 'signout'; }
    location.replace('/app/signin?ended=' + why);
  }

  // Inbox.
  function entryNode(e) {
    var li = el('li', 'thread prio-' + e.priority + (e.unread ? ' unread' : ''));
    li.dataset.id = e.id;
    var a = el('a');
    a.href = '/app/threads/' + e.id;
    a.appendChild(el('span', 'label', e.label));
    a.appendChild(el('span', 'prio', e.priority));
    if (e.state) { a.appendChild(el('span', 'state ' + e.state, e.state)); }
    a.appendChild(el('span', 'count', e.unread ? e.unread : ''));
    a.appendChild(timeNode(e.last_activity));
    li.appendChild(a);
    return li;
  }
  function remember() {
    var list = document.getElementById('inbox');
    if (!list) { return; }
    var ids = [];
    var lis = list.querySelectorAll('li[data-id]');
    for (var i = 0; i < lis.length; i++) { ids.push(lis[i].dataset.id); }
    try { sessionStorage.setItem('pagebridge.inbox', JSON.stringify(ids)); } catch (e) { /* storage off */ }
  }
  function upsert(e) {
    var list = document.getElementById('inbox');
    if (!list || !idPattern.test(e.id)) { return; }
    var old = list.querySelector('li[data-id="' + e.id + '"]');
    if (old) { list.removeChild(old); }
    list.insertBefore(entryNode(e), list.firstChild);
    var empty = document.getElementById('inbox-empty');
    if (empty) { empty.hidden = true; }
    remember();
  }
  function reloadInbox() {
    var list = document.getElementById('inbox');
    if (!list) { return; }
    getJSON('/app/inbox.json', function (d) {
      while (list.firstChild) { list.removeChild(list.firstChild); }
      for (var i = 0; i < d.threads.length; i++) { list.appendChild(entryNode(d.threads[i])); }
      var empty = document.getElementById('inbox-empty');
      if (empty) { empty.hidden = d.threads.length > 0; }
      remember();
    });
  }
  remember();

  // getJSON fetches url's JSON; a signed-out answer signs the page out,
  // any other failure gives nothing.
  function getJSON(url, then) {
    fetch(url, { credentials: 'same-origin' }).then(function (r) {
      if (r.status === 401) { signedOut('expired'); return null; }
      return r.ok ? r.json() : null;
    }).then(function (d) { if (d) { then(d); } });
  }

  // Thread.
  function receiptRows(tbody, receipts) {
    while (tbody.firstChild) { tbody.removeChild(tbody.firstChild); }
    for (var i = 0; i < receipts.length; i++) {
      var r = receipts[i];
      var tr = el('tr');
      tr.appendChild(el('td', '', r.name));
      tr.appendChild(el('td', '', r.channel));
      var st = el('td');
      st.appendChild(el('span', 'state ' + r.state, r.state));
      tr.appendChild(st);
      var times = el('td');
      for (var j = 0; j < (r.times || []).length; j++) {
        if (j) { times.appendChild(document.createTextNode(' · ')); }
        times.appendChild(document.createTextNode(r.times[j].state + ' '));
        times.appendChild(timeNode(r.times[j].at));
      }
      tr.appendChild(times);
      tr.appendChild(el('td', 'small', r.note || ''));
      tbody.appendChild(tr);
    }
  }
  // A message's files: images shown (served from here, inline only for
  // raster types the server marked), the others as downloads.
  function filesNode(files) {
    var ul = el('ul', 'files');
    for (var i = 0; i < files.length; i++) {
      var f = files[i];
      if (!/^\/app\/threads\/[0-9A-Z]{26}\/messages\/[0-9A-Z]{26}\/files\/[0-9]+$/.test(f.url)) { continue; }
      var li = el('li');
      if (f.inline) {
        var a = el('a');
        a.href = f.url; a.target = '_blank'; a.rel = 'noopener';
        var img = el('img', 'preview');
        img.src = f.url; img.alt = f.name;
        a.appendChild(img);
        li.appendChild(a);
      }
      var link = el('a', 'file', f.name);
      link.href = f.url;
      if (!f.inline) { link.setAttribute('download', ''); }
      li.appendChild(link);
      li.appendChild(document.createTextNode(' '));
      li.appendChild(el('span', 'small', f.type + ' · ' + f.size));
      ul.appendChild(li);
    }
    return ul;
  }
  function messageNode(m) {
    var li = el('li', 'msg' + (m.page ? ' page' : ''));
    li.dataset.id = m.id;
    var meta = el('div', 'meta');
    meta.appendChild(el('span', 'author', m.author_name));
    meta.appendChild(document.createTextNode(' '));
    meta.appendChild(timeNode(m.at));
    li.appendChild(meta);
    li.appendChild(el('p', 'text', m.text));
    if (m.attachments && m.attachments.length) { li.appendChild(filesNode(m.attachments)); }
    var table = el('table', 'receipts');
    var tbody = el('tbody');
    receiptRows(tbody, m.receipts || []);
    table.appendChild(tbody);
    li.appendChild(table);
    return li;
  }
  function pageState(v) {
    var box = document.getElementById('page-state');
    if (!box) { return; }
    box.hidden = !v.state;
    var st = document.getElementById('state');
    st.className = 'state ' + (v.state || '');
    st.textContent = v.state || '';
    var acked = document.getElementById('acked');
    while (acked.firstChild) { acked.removeChild(acked.firstChild); }
    if (v.acked_by) { acked.appendChild(document.createTextNode('by ' + v.acked_by)); }
    if (v.acked_at) { acked.appendChild(document.createTextNode(' at ')); acked.appendChild(timeNode(v.acked_at)); }
    var form = document.getElementById('ack-form');
    if (form) { form.hidden = !v.can_ack; }
  }
  function reloadThread() {
    getJSON('/app/threads/' + threadID + '/view.json', function (v) {
      var list = document.getElementById('messages');
      while (list.firstChild) { list.removeChild(list.firstChild); }
      for (var i = 0; i < v.messages.length; i++) { list.appendChild(messageNode(v.messages[i])); }
      pageState(v);
    });
  }
  function reloadReceipts() {
    getJSON('/app/threads/' + threadID + '/receipts.json', function (d) {
      pageState(d);
      for (var i = 0; i < d.messages.length; i++) {
        var m = d.messages[i];
        if (!idPattern.test(m.message)) { continue; }
        var tbody = document.querySelector('li.msg[data-id="' + m.message + '"] table.receipts tbody');
        if (tbody) { receiptRows(tbody, m.receipts || []); }
      }
    });
  }

  // The socket.
  var live = document.getElementById('live');
  var ws = null;
  var retry = 1000;
  function setLive(on) {
    if (!live) { return; }
    live.textContent = on ? 'live' : 'offline';
    live.className = 'live' + (on ? ' on' : '');
  }
  function send(obj) {
    if (ws && ws.readyState === 1) { ws.send(JSON.stringify(obj)); }
  }
  function handle(ev) {
    // Other scripts of the page (notifications, the console) hear every
    // frame too.
    document.dispatchEvent(new CustomEvent('pb:frame', { detail: ev }));
    switch (ev.type) {
    case 'thread':
      upsert(ev.entry);
      if (ev.message && ev.by !== me) { send({ type: 'received', thread: ev.entry.id, message: ev.message }); }
      if (ev.entry.id === threadID) { reloadThread(); }
      break;
    case 'receipts':
      if (ev.thread === threadID) { reloadReceipts(); }
      break;
    case 'resync':
      reloadInbox();
      if (threadID) { reloadThread(); }
      break;
    case 'signed_out':
      signedOut(ev.reason);
      break;
    }
  }
  function connect() {
    ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/app/ws');
    ws.onopen = function () { retry = 1000; setLive(true); };
    ws.onmessage = function (e) {
      var ev;
      try { ev = JSON.parse(e.data); } catch (x) { return; }
      handle(ev);
    };
    ws.onclose = function (e) {
      setLive(false);
      ws = null;
      if (leaving) { return; }
      if (e.code === 4001) { signedOut('expired'); return; }
      // Dropped: after a while, check the session and catch up.
      setTimeout(function () {
        fetch('/app/inbox.json', { credentials: 'same-origin' }).then(function (r) {
          if (r.status === 401) { signedOut('expired'); return; }
          reloadInbox();
          if (threadID) { reloadThread(); }
          connect();
        }, function () { connect(); });
      }, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }
  // What the user does keeps the session alive (the idle timeout counts
  // from the last of it); at most one report a minute.
  var lastActive = Date.now();
  function active() {
    var now = Date.now();
    if (now - lastActive > 60000) { lastActive = now; send({ type: 'active' }); }
  }
  ['keydown', 'pointerdown', 'touchstart'].forEach(function (t) { document.addEventListener(t, active, { passive: true }); });
  connect();
}());
