module zcio.local/zcio

go 1.19
