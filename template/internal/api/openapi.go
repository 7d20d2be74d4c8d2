// This file belongs to the service's team: copier-gin creates it once and never
// overwrites it on `make update`.

package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPI is the API's description, openapi.yaml, built into the binary.
//
//go:embed openapi.yaml
var openAPI []byte

// describe serves openapi.yaml, so clients and tools can read the contract.
func describe(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml", openAPI)
}
