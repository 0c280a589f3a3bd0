module zcio/benches/gocopy

go 1.19
