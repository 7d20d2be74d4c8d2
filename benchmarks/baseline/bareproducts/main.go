// Command bareproducts is the benchmark suite's baseline for the example API's routes:
// what a developer writes by hand with gin.New(), GORM and the same pure-Go SQLite, with
// the generated service's connection settings (pragmas, pool, UTC timestamps) and no
// middleware, validation layer or instrumentation. The difference to the generated
// service on /api/v1/products is what the template costs there.
// BENCH_ADDR is the address to listen on, BENCH_DB the SQLite file.
package main

import (
	"errors"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
)

type product struct {
	ID         int64     `json:"id" gorm:"primaryKey"`
	SKU        string    `json:"sku" gorm:"column:sku"`
	Name       string    `json:"name"`
	PriceCents int64     `json:"price_cents"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

type input struct {
	SKU        string `json:"sku" binding:"required,max=64"`
	Name       string `json:"name" binding:"required,max=200"`
	PriceCents *int64 `json:"price_cents" binding:"required,min=0"`
}

const schema = `CREATE TABLE IF NOT EXISTS products (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    sku         TEXT     NOT NULL CONSTRAINT products_sku_key UNIQUE,
    name        TEXT     NOT NULL,
    price_cents INTEGER  NOT NULL CONSTRAINT products_price_cents_check CHECK (price_cents >= 0),
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
)`

func main() {
	dsn := "file:" + os.Getenv("BENCH_DB") + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{
		TranslateError: true,
		NowFunc:        func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
	})
	if err != nil {
		log.Fatal(err)
	}
	pool, err := db.DB()
	if err != nil {
		log.Fatal(err)
	}
	pool.SetMaxOpenConns(10)
	pool.SetMaxIdleConns(5)
	if err := db.Exec(schema).Error; err != nil {
		log.Fatal(err)
	}

	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	engine.GET("/readyz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ready"}) })
	engine.GET("/api/v1/products/:id", func(c *gin.Context) {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": "bad id"})
			return
		}
		var p product
		if err := db.WithContext(c.Request.Context()).Take(&p, id).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				c.JSON(http.StatusNotFound, gin.H{"error": "not found"})
				return
			}
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, p)
	})
	engine.GET("/api/v1/products", func(c *gin.Context) {
		ctx := c.Request.Context()
		var total int64
		if err := db.WithContext(ctx).Model(&product{}).Count(&total).Error; err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		items := make([]product, 0, 20)
		if err := db.WithContext(ctx).Order("id").Limit(20).Find(&items).Error; err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"items": items, "page": 1, "limit": 20, "total": total})
	})
	engine.POST("/api/v1/products", func(c *gin.Context) {
		var in input
		if err := c.ShouldBindJSON(&in); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		p := product{SKU: in.SKU, Name: in.Name, PriceCents: *in.PriceCents}
		if err := db.WithContext(c.Request.Context()).Create(&p).Error; err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusCreated, p)
	})
	if err := engine.Run(os.Getenv("BENCH_ADDR")); err != nil {
		log.Fatal(err)
	}
}
