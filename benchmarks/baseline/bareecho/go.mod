module benchbaseline/bareecho

go 1.26.0

require github.com/labstack/echo/v5 v5.4.4
