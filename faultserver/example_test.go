package faultserver_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/cbload/cbload/faultserver"
)

func ExampleNew() {
	faults, err := faultserver.ParseSpecs([]string{"error:503,path=/api"})
	if err != nil {
		log.Fatal(err)
	}
	s, err := faultserver.New(faultserver.Config{Seed: 7, Faults: faults})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for _, path := range []string{"/api/users", "/health"} {
		resp, err := client.Get(s.URL() + path)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Printf("%s %d fault=%q\n", path, resp.StatusCode, resp.Header.Get(faultserver.FaultHeader))
	}

	// Switch the fault off while the server runs, as a load phase ends.
	s.SetFaults(nil)
	resp, err := client.Get(s.URL() + "/api/users")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("/api/users", resp.StatusCode, "after SetFaults(nil)")
	// Output:
	// /api/users 503 fault="error"
	// /health 200 fault=""
	// /api/users 200 after SetFaults(nil)
}

func ExampleParseSpec() {
	spec, err := faultserver.ParseSpec("latency:1500ms, jitter=200ms, rate=0.30, path=/api")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(spec.Kind, spec.Rate, spec.Path)
	fmt.Println(spec)

	_, err = faultserver.ParseSpec("error:200")
	fmt.Println(err)
	// Output:
	// latency 0.3 /api
	// latency:1.5s,jitter=200ms,rate=0.3,path=/api
	// fault spec "error:200": status "200" is not an HTTP error status 400-599 (form: error[:STATUS][,retry-after=DURATION][,rate=P][,path=/PREFIX])
}

func ExampleKinds() {
	for _, k := range faultserver.Kinds() {
		fmt.Printf("%-10s %s\n", k.Name, k.Example)
	}
	// Output:
	// latency    latency:2s,jitter=200ms
	// error      error:503,rate=0.5
	// hang       hang:30s
	// refuse     refuse
	// reset      reset,rate=0.2
	// slowbody   slowbody:1KiB/s
	// slowdown   slowdown:3x
	// truncate   truncate:1KiB,framing=chunked
	// empty      empty,rate=0.2
	// garbage    garbage:64B
	// slowclose  slowclose:2s
	// slowupload slowupload:1KiB/s
	// tls        tls:expired,rate=0.5
	// grpc-error grpc-error:UNAVAILABLE,rate=0.5
}

func ExampleClient() {
	s, err := faultserver.New(faultserver.Config{ControlAddr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	c, err := faultserver.NewClient(s.ControlURL(), "")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if _, err := c.SetFaults(ctx, []string{"latency:200ms,path=/api"}); err != nil {
		log.Fatal(err)
	}
	if _, err := c.AddFault(ctx, "db-down", "error:503,path=/db"); err != nil {
		log.Fatal(err)
	}
	faults, err := c.RemoveFault(ctx, "db-down")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(faults)
	// Output:
	// [{ latency:200ms,path=/api}]
}
