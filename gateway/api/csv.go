package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"pagebridge/gateway/dircsv"
)

// importReport is the answer to an import: how many records were
// written, or every bad row and nothing written.
type importReport struct {
	Error    string            `json:"error,omitempty"`
	Imported int               `json:"imported"`
	Rows     []dircsv.RowError `json:"rows,omitempty"`
}

func (a *API) importPeople(c *gin.Context, k *call) (reply, error) {
	return a.importList(c, k, ListPeople)
}

func (a *API) importPagerIDs(c *gin.Context, k *call) (reply, error) {
	return a.importList(c, k, ListPagerIDs)
}

// importList writes a CSV file in one commit; bad rows, the store's
// problems among them (a target not in the directory, say, by the line
// of the record it is about), come back as 400 and nothing is written.
func (a *API) importList(c *gin.Context, k *call, list string) (reply, error) {
	b, err := readCSV(c)
	if err != nil {
		return reply{}, err
	}
	res, err := a.importCSV(c.Request.Context(), list, b, false, k.by())
	if err != nil {
		return reply{}, err
	}
	if len(res.Rows) > 0 {
		msg := fmt.Sprintf("%d bad rows; nothing was imported", len(res.Rows))
		if len(res.Rows) == 1 {
			msg = "1 bad row; nothing was imported"
		}
		return jsonReply(http.StatusBadRequest, importReport{Error: msg, Rows: res.Rows})
	}
	return jsonReply(http.StatusOK, importReport{Imported: res.Imported})
}

var errExport = errors.New("cannot export")

func csvReply(name string, b []byte) (reply, error) {
	return reply{status: http.StatusOK, contentType: "text/csv; charset=utf-8", body: b,
		header: map[string]string{"Content-Disposition": `attachment; filename="` + name + `"`}}, nil
}

func (a *API) exportPeople(c *gin.Context, k *call) (reply, error) {
	b, err := a.exportCSV(c.Request.Context(), ListPeople)
	if err != nil {
		return reply{}, err
	}
	return csvReply("people.csv", b)
}

func (a *API) exportPagerIDs(c *gin.Context, k *call) (reply, error) {
	b, err := a.exportCSV(c.Request.Context(), ListPagerIDs)
	if err != nil {
		return reply{}, err
	}
	return csvReply("pagerids.csv", b)
}
