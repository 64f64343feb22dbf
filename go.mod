module veil

go 1.26.8
