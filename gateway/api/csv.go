package api

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"pagebridge/gateway/dircsv"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// importReport is the answer to an import: how many records were
// written, or every bad row and nothing written.
type importReport struct {
	Error    string            `json:"error,omitempty"`
	Imported int               `json:"imported"`
	Rows     []dircsv.RowError `json:"rows,omitempty"`
}

func (a *API) importPeople(c *gin.Context, k *call) (reply, error) {
	b, err := readCSV(c)
	if err != nil {
		return reply{}, err
	}
	rows, err := dircsv.ParsePeople(bytes.NewReader(b))
	if err != nil {
		return badImport(err)
	}
	im := storage.Import{People: make([]paging.Person, len(rows))}
	lines := make([]int, len(rows))
	for i, r := range rows {
		im.People[i], lines[i] = r.Record, r.Line
	}
	return a.importDirectory(c, k, im, "people", lines)
}

func (a *API) importPagerIDs(c *gin.Context, k *call) (reply, error) {
	b, err := readCSV(c)
	if err != nil {
		return reply{}, err
	}
	rows, err := dircsv.ParsePagerIDs(bytes.NewReader(b))
	if err != nil {
		return badImport(err)
	}
	im := storage.Import{PagerIDs: make([]paging.PagerID, len(rows))}
	lines := make([]int, len(rows))
	for i, r := range rows {
		im.PagerIDs[i], lines[i] = r.Record, r.Line
	}
	return a.importDirectory(c, k, im, "pagerids", lines)
}

// badImport answers a file with bad rows: every one of them, nothing
// written.
func badImport(err error) (reply, error) {
	var ce *dircsv.Error
	if !errors.As(err, &ce) {
		return reply{}, err
	}
	return rowsReply(ce.Rows)
}

func rowsReply(rows []dircsv.RowError) (reply, error) {
	slices.SortStableFunc(rows, func(a, b dircsv.RowError) int { return a.Line - b.Line })
	msg := fmt.Sprintf("%d bad rows; nothing was imported", len(rows))
	if len(rows) == 1 {
		msg = "1 bad row; nothing was imported"
	}
	return jsonReply(http.StatusBadRequest, importReport{Error: msg, Rows: rows})
}

// importDirectory writes im in one commit; the store's problems (a
// target not in the directory, say) come back as rows of the file, by the
// line of the record they are about.
func (a *API) importDirectory(c *gin.Context, k *call, im storage.Import, list string, lines []int) (reply, error) {
	n := len(im.People) + len(im.PagerIDs)
	err := a.st.ImportDirectory(c.Request.Context(), im, k.by())
	var ie *storage.ImportError
	if errors.As(err, &ie) {
		rows := make([]dircsv.RowError, 0, len(ie.Problems))
		for _, p := range ie.Problems {
			r := dircsv.RowError{ID: p.ID, Reason: p.Err.Error()}
			if p.List == list && p.Index >= 0 && p.Index < len(lines) {
				r.Line = lines[p.Index]
			}
			rows = append(rows, r)
		}
		return rowsReply(rows)
	}
	if err != nil {
		return reply{}, err
	}
	return jsonReply(http.StatusOK, importReport{Imported: n})
}

var errExport = errors.New("cannot export")

func csvReply(name string, b []byte) (reply, error) {
	return reply{status: http.StatusOK, contentType: "text/csv; charset=utf-8", body: b,
		header: map[string]string{"Content-Disposition": `attachment; filename="` + name + `"`}}, nil
}

func (a *API) exportPeople(c *gin.Context, k *call) (reply, error) {
	people, err := a.st.People(c.Request.Context())
	if err != nil {
		return reply{}, err
	}
	var b bytes.Buffer
	if err := dircsv.FormatPeople(&b, people); err != nil {
		return reply{}, fmt.Errorf("%w: %v", errExport, err)
	}
	return csvReply("people.csv", b.Bytes())
}

func (a *API) exportPagerIDs(c *gin.Context, k *call) (reply, error) {
	ids, err := a.st.PagerIDs(c.Request.Context())
	if err != nil {
		return reply{}, err
	}
	var b bytes.Buffer
	if err := dircsv.FormatPagerIDs(&b, ids); err != nil {
		return reply{}, fmt.Errorf("%w: %v", errExport, err)
	}
	return csvReply("pagerids.csv", b.Bytes())
}
