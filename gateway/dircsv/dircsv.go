package dircsv

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"pagebridge/gateway/paging"
)

// MaxRows bounds the rows a file may have (the header not counted).
const MaxRows = 50_000

// The columns of each file, in the order Format writes them.
var (
	PeopleColumns  = []string{"id", "name", "department", "title", "stage", "roles", "app", "pager", "pager_via", "pager_pocsag", "sms"}
	PagerIDColumns = []string{"pager_id", "target_kind", "target_id", "priority", "policy", "label"}
)

// optionalColumns may be missing from a file's header (files written
// before the column existed); their cells are then empty.
var optionalColumns = map[string]bool{"pager_pocsag": true}

// Row is a good record and the line it starts on (the header is line 1).
type Row[T any] struct {
	Line   int
	Record T
}

// RowError is one bad row: its line, the ID it gave (if any) and why.
type RowError struct {
	Line   int    `json:"line"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

func (e RowError) String() string {
	if e.ID != "" {
		return fmt.Sprintf("line %d (%s): %s", e.Line, e.ID, e.Reason)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

// Error lists every bad row of a file, in line order. It wraps
// paging.ErrInvalid.
type Error struct {
	Rows []RowError
}

func (e *Error) Error() string {
	if len(e.Rows) == 1 {
		return "csv: " + e.Rows[0].String()
	}
	return fmt.Sprintf("csv: %d bad rows, the first %s", len(e.Rows), e.Rows[0])
}

// Unwrap lets errors.Is see paging.ErrInvalid.
func (e *Error) Unwrap() error { return paging.ErrInvalid }

// ParsePeople reads a people file. It returns every good person with its
// line, and, if any row is bad, an *Error listing every bad row (the good
// rows are still returned). Any other error is the reader's.
func ParsePeople(r io.Reader) ([]Row[paging.Person], error) {
	return parse(r, PeopleColumns, parsePerson)
}

// ParsePagerIDs reads a pager IDs file, as ParsePeople does.
func ParsePagerIDs(r io.Reader) ([]Row[paging.PagerID], error) {
	return parse(r, PagerIDColumns, parsePagerID)
}

// rowFunc turns the cells of one row, by column name, into a record and
// its ID; problems lists everything wrong with it.
type rowFunc[T any] func(cell func(col string) string) (rec T, id string, problems []string)

func parse[T any](r io.Reader, columns []string, row rowFunc[T]) ([]Row[T], error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && string(b) == "\uFEFF" {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	var (
		out  []Row[T]
		bad  []RowError
		idx  map[string]int // column → index in the row
		seen = map[string]int{}
		rows int
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			reason := pe.Err.Error()
			if pe.Line != pe.StartLine {
				reason += fmt.Sprintf(" (the row runs on to line %d)", pe.Line)
			}
			if idx == nil {
				return nil, &Error{Rows: []RowError{{Line: pe.StartLine, Reason: "header: " + reason}}}
			}
			bad = append(bad, RowError{Line: pe.StartLine, Reason: reason})
			continue
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if idx == nil {
			if idx, err = header(rec, columns); err != nil {
				return nil, &Error{Rows: []RowError{{Line: line, Reason: err.Error()}}}
			}
			continue
		}
		if blank(rec) {
			continue
		}
		if rows++; rows > MaxRows {
			bad = append(bad, RowError{Line: line, Reason: fmt.Sprintf("more than %d rows: split the file", MaxRows)})
			break
		}
		if len(rec) != len(idx) {
			bad = append(bad, RowError{Line: line, Reason: fmt.Sprintf("wrong column count: %d, the header has %d", len(rec), len(idx))})
			continue
		}
		var cellProblems []string
		cells := make(map[string]string, len(columns))
		for _, col := range columns {
			i, ok := idx[col]
			if !ok {
				continue // an optional column the file does not have
			}
			v, err := cellValue(rec[i])
			if err != nil {
				cellProblems = append(cellProblems, col+": "+err.Error())
			}
			cells[col] = v
		}
		t, id, problems := row(func(col string) string { return cells[col] })
		problems = append(cellProblems, problems...)
		if id != "" {
			if first, dup := seen[id]; dup {
				problems = append(problems, fmt.Sprintf("duplicate: %s is also on line %d", id, first))
			} else {
				seen[id] = line
			}
		}
		if len(problems) > 0 {
			bad = append(bad, RowError{Line: line, ID: id, Reason: strings.Join(problems, "; ")})
			continue
		}
		out = append(out, Row[T]{Line: line, Record: t})
	}
	if idx == nil {
		return nil, &Error{Rows: []RowError{{Line: 1, Reason: "empty file: the first line must be the header " + strings.Join(columns, ",")}}}
	}
	if len(bad) > 0 {
		return out, &Error{Rows: bad}
	}
	return out, nil
}

// header maps each expected column to its index, or says what is wrong.
func header(rec []string, columns []string) (map[string]int, error) {
	idx := map[string]int{}
	var unknown, twice []string
	for i, h := range rec {
		h = strings.ToLower(strings.TrimSpace(h))
		switch _, dup := idx[h]; {
		case !slices.Contains(columns, h):
			unknown = append(unknown, fmt.Sprintf("%q", h))
		case dup:
			twice = append(twice, h)
		default:
			idx[h] = i
		}
	}
	var missing []string
	for _, c := range columns {
		if _, ok := idx[c]; !ok && !optionalColumns[c] {
			missing = append(missing, c)
		}
	}
	var problems []string
	if len(unknown) > 0 {
		problems = append(problems, "unknown column "+strings.Join(unknown, ", "))
	}
	if len(twice) > 0 {
		problems = append(problems, "column twice: "+strings.Join(twice, ", "))
	}
	if len(missing) > 0 {
		problems = append(problems, "missing column "+strings.Join(missing, ", "))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("header: %s (want %s)", strings.Join(problems, "; "), strings.Join(columns, ","))
	}
	return idx, nil
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// formulaStart are the first characters a spreadsheet may take for a
// formula (and ', the escape itself).
const formulaStart = "=+-@'"

// cellValue trims v and undoes the formula escape; control characters and
// invalid UTF-8 are refused.
func cellValue(v string) (string, error) {
	if !utf8.ValidString(v) {
		return "", errors.New("not UTF-8 text (save the spreadsheet as CSV UTF-8)")
	}
	if strings.ContainsFunc(v, isControl) {
		return "", errors.New("control character (a tab or a line break inside the cell)")
	}
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '\'' && strings.IndexByte(formulaStart, v[1]) >= 0 {
		v = v[1:]
	}
	return v, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// list splits a ;-separated cell, dropping empty items.
func list(v string) []string {
	var out []string
	for s := range strings.SplitSeq(v, ";") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func parsePerson(cell func(string) string) (paging.Person, string, []string) {
	p := paging.Person{
		ID:         cell("id"),
		Name:       cell("name"),
		Department: cell("department"),
		Title:      cell("title"),
		Stage:      paging.Stage(strings.ToLower(cell("stage"))),
		Roles:      list(cell("roles")),
	}
	var problems []string
	if p.ID == "" {
		problems = append(problems, "id is empty")
	}
	if p.Name == "" {
		problems = append(problems, "name is empty")
	}
	if !p.Stage.Valid() {
		problems = append(problems, fmt.Sprintf("stage %q is not pager, both or app", cell("stage")))
	}
	for _, a := range list(cell("app")) {
		p.Endpoints = append(p.Endpoints, paging.Endpoint{Channel: paging.ChannelApp, Address: a})
	}
	pagers, vias := list(cell("pager")), list(cell("pager_via"))
	codings, cerr := pocsagCodings(cell("pager_pocsag"), len(pagers))
	if cerr != "" {
		problems = append(problems, cerr)
	}
	switch {
	case len(pagers) == 0 && len(vias) > 0:
		problems = append(problems, "pager_via is set but pager is empty")
	case len(pagers) > 0 && len(vias) == 0:
		problems = append(problems, fmt.Sprintf("pager %s needs pager_via (the paging terminal that carries it)", strings.Join(pagers, ";")))
	case len(vias) > 1 && len(vias) != len(pagers):
		problems = append(problems, fmt.Sprintf("pager_via names %d terminals for %d pagers (give one for all, or one per pager)", len(vias), len(pagers)))
	default:
		for i, a := range pagers {
			via := vias[0]
			if len(vias) > 1 {
				via = vias[i]
			}
			e := paging.Endpoint{Channel: paging.ChannelPager, Address: a, Via: via}
			if codings != nil {
				e.POCSAG = codings[i] // the capcode is checked with the person
			}
			p.Endpoints = append(p.Endpoints, e)
		}
	}
	for _, n := range list(cell("sms")) {
		e := paging.Endpoint{Channel: paging.ChannelSMS, Address: n}
		if e.Validate() != nil {
			problems = append(problems, fmt.Sprintf("sms %q is not an E.164 number (+, then 7 to 15 digits, no spaces)", n))
			continue
		}
		p.Endpoints = append(p.Endpoints, e)
	}
	if len(problems) == 0 {
		// The domain's own check, for anything the above does not cover.
		if err := p.Validate(); err != nil {
			problems = append(problems, err.Error())
		}
	}
	return p, p.ID, problems
}

func parsePagerID(cell func(string) string) (paging.PagerID, string, []string) {
	p := paging.PagerID{
		ID:     cell("pager_id"),
		Target: paging.Target{Kind: paging.TargetKind(strings.ToLower(cell("target_kind"))), ID: cell("target_id")},
		Policy: cell("policy"),
		Label:  cell("label"),
	}
	var problems []string
	if p.ID == "" {
		problems = append(problems, "pager_id is empty")
	} else if len(p.ID) > paging.MaxPagerIDLen {
		problems = append(problems, fmt.Sprintf("pager_id is longer than %d bytes", paging.MaxPagerIDLen))
	}
	switch p.Target.Kind {
	case paging.TargetPerson, paging.TargetRole, paging.TargetGroup:
	default:
		problems = append(problems, fmt.Sprintf("target_kind %q is not person, role or group", cell("target_kind")))
	}
	if p.Target.ID == "" {
		problems = append(problems, "target_id is empty")
	}
	if v := strings.ToLower(cell("priority")); v != "" {
		prio, err := paging.ParsePriority(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("priority %q is not normal, high or critical", cell("priority")))
		}
		p.Priority = prio
	}
	if len(problems) == 0 {
		if err := p.Validate(); err != nil {
			problems = append(problems, err.Error())
		}
	}
	return p, p.ID, problems
}

// FormatPeople writes people in the people format. A person it cannot
// write so that it reads back the same (a ; inside a role or address, a
// control character, an endpoint of an unknown channel) is an error
// wrapping paging.ErrInvalid, and nothing is written.
func FormatPeople(w io.Writer, people []paging.Person) error {
	rows := make([][]string, 0, len(people)+1)
	rows = append(rows, PeopleColumns)
	for _, p := range people {
		var app, pagers, vias, codings, sms []string
		for _, e := range p.Endpoints {
			switch e.Channel {
			case paging.ChannelApp:
				app = append(app, e.Address)
			case paging.ChannelPager:
				pagers, vias, codings = append(pagers, e.Address), append(vias, e.Via), append(codings, formatPOCSAG(e.POCSAG))
			case paging.ChannelSMS:
				sms = append(sms, e.Address)
			default:
				return fmt.Errorf("%w person %s: endpoint of channel %q has no column", paging.ErrInvalid, p.ID, e.Channel)
			}
		}
		if len(vias) > 1 && allSame(vias) {
			vias = vias[:1]
		}
		if len(codings) > 0 && allSame(codings) {
			codings = codings[:1]
		}
		if len(codings) == 1 && codings[0] == noPOCSAG {
			codings = nil
		}
		row := []string{p.ID, p.Name, p.Department, p.Title, string(p.Stage)}
		for _, l := range [][]string{p.Roles, app, pagers, vias, codings, sms} {
			v, err := joinList(l)
			if err != nil {
				return fmt.Errorf("%w person %s: %v", paging.ErrInvalid, p.ID, err)
			}
			row = append(row, v)
		}
		if err := escapeRow(row); err != nil {
			return fmt.Errorf("%w person %s: %v", paging.ErrInvalid, p.ID, err)
		}
		rows = append(rows, row)
	}
	return write(w, rows)
}

// FormatPagerIDs writes pager IDs in the pager IDs format, refusing what
// would not read back the same as FormatPeople does.
func FormatPagerIDs(w io.Writer, ids []paging.PagerID) error {
	rows := make([][]string, 0, len(ids)+1)
	rows = append(rows, PagerIDColumns)
	for _, p := range ids {
		if !p.Priority.Valid() {
			return fmt.Errorf("%w pager id %s: %v", paging.ErrInvalid, p.ID, p.Priority)
		}
		row := []string{p.ID, string(p.Target.Kind), p.Target.ID, p.Priority.String(), p.Policy, p.Label}
		if err := escapeRow(row); err != nil {
			return fmt.Errorf("%w pager id %s: %v", paging.ErrInvalid, p.ID, err)
		}
		rows = append(rows, row)
	}
	return write(w, rows)
}

func write(w io.Writer, rows [][]string) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

func allSame(s []string) bool {
	for _, v := range s[1:] {
		if v != s[0] {
			return false
		}
	}
	return true
}

// joinList joins items with ;, refusing items that would not split back.
func joinList(items []string) (string, error) {
	for _, it := range items {
		if it == "" || strings.Contains(it, ";") || strings.TrimSpace(it) != it {
			return "", fmt.Errorf("list item %q cannot be written (empty, a ; or surrounding spaces)", it)
		}
	}
	return strings.Join(items, ";"), nil
}

// escapeRow refuses what cellValue would refuse, and puts a ' before a
// value a spreadsheet would take for a formula.
func escapeRow(row []string) error {
	for i, v := range row {
		if !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) {
			return fmt.Errorf("value %q has control characters or is not UTF-8", v)
		}
		if v != "" && strings.IndexByte(formulaStart, v[0]) >= 0 {
			row[i] = "'" + v
		}
	}
	return nil
}

// noPOCSAG stands in pager_pocsag for a pager on a paging terminal, among
// pagers on transmitters.
const noPOCSAG = "-"

// pocsagCodings reads pager_pocsag: empty (no pager on a transmitter),
// one coding for all n pagers, or one per pager ("-" for a pager on a
// paging terminal). A coding is rate/function/kind, with /group for a
// group capcode: "1200/3/alpha", "512/0/numeric/group".
func pocsagCodings(v string, n int) ([]paging.POCSAG, string) {
	items := list(v)
	switch {
	case len(items) == 0:
		return nil, ""
	case n == 0:
		return nil, "pager_pocsag is set but pager is empty"
	case len(items) > 1 && len(items) != n:
		return nil, fmt.Sprintf("pager_pocsag has %d codings for %d pagers (give one for all, or one per pager, - for none)", len(items), n)
	}
	out := make([]paging.POCSAG, n)
	for i := range out {
		s := items[0]
		if len(items) > 1 {
			s = items[i]
		}
		c, err := parsePOCSAG(s)
		if err != "" {
			return nil, err
		}
		out[i] = c
	}
	return out, ""
}

func parsePOCSAG(s string) (paging.POCSAG, string) {
	if s == noPOCSAG {
		return paging.POCSAG{}, ""
	}
	parts := strings.Split(strings.ToLower(s), "/")
	bad := fmt.Sprintf("pager_pocsag %q is not rate/function/kind[/group] (e.g. 1200/3/alpha)", s)
	if len(parts) < 3 || len(parts) > 4 || len(parts) == 4 && parts[3] != "group" {
		return paging.POCSAG{}, bad
	}
	rate, err1 := strconv.Atoi(parts[0])
	fn, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return paging.POCSAG{}, bad
	}
	c := paging.POCSAG{Rate: rate, Function: fn, Kind: paging.POCSAGKind(parts[2]), Group: len(parts) == 4}
	if err := c.Validate(); err != nil {
		return paging.POCSAG{}, "pager_pocsag: " + err.Error()
	}
	return c, ""
}

func formatPOCSAG(c paging.POCSAG) string {
	if c == (paging.POCSAG{}) {
		return noPOCSAG
	}
	s := fmt.Sprintf("%d/%d/%s", c.Rate, c.Function, c.Kind)
	if c.Group {
		s += "/group"
	}
	return s
}
