package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// OpenAPI is the API's OpenAPI 3.1 description, served at
// GET /api/v1/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

func (a *API) openAPI(c *gin.Context, k *call) (reply, error) {
	return reply{status: http.StatusOK, contentType: "application/yaml", body: OpenAPI}, nil
}
