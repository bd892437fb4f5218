module retrylab/goprobe

go 1.23
