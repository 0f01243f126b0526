package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/bluenviron/gortmplib"
)

func main() {
	u, _ := url.Parse(os.Args[1])
	c := &gortmplib.Client{URL: u, Publish: true}
	err := c.Initialize(context.Background())
	fmt.Println("init", err)
	if len(os.Args) > 2 { time.Sleep(8 * time.Second); _, err := c.NetConn().Write([]byte{0}); fmt.Println("write after", err); return }
	start := time.Now()
	for {
		m, err := c.Read()
		fmt.Printf("%v %T %+v %v\n", time.Since(start).Round(time.Millisecond), m, m, err)
		if err != nil {
			return
		}
	}
}
