// SPDX-License-Identifier: Apache-2.0

// Command gen writes a CPU profile (cpu.pb.gz) and a heap profile
// (heap.pb.gz) with runtime/pprof into the directory given as its argument.
// It burns CPU for about one second in two named functions, under pprof
// labels thread=alpha and thread=beta, so the decoder tests can check names,
// labels and totals against `go tool pprof -raw`.
package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"
)

var sink []byte
var keep [][]byte

//go:noinline
func burnAlpha(d time.Duration) {
	buf := make([]byte, 4096)
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 64; i++ {
			h := sha256.Sum256(buf)
			buf[0] = h[0]
		}
	}
	sink = buf
}

//go:noinline
func burnBeta(d time.Duration) {
	x := uint64(1)
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 100000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	sink = []byte{byte(x)}
}

//go:noinline
func allocate() {
	for i := 0; i < 2000; i++ {
		keep = append(keep, make([]byte, 8192))
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gen OUTDIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	runtime.MemProfileRate = 4096
	cpu, err := os.Create(filepath.Join(dir, "cpu.pb.gz"))
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		panic(err)
	}
	ctx := context.Background()
	pprof.Do(ctx, pprof.Labels("thread", "alpha"), func(context.Context) { burnAlpha(600 * time.Millisecond) })
	pprof.Do(ctx, pprof.Labels("thread", "beta"), func(context.Context) { burnBeta(500 * time.Millisecond) })
	pprof.StopCPUProfile()
	cpu.Close()

	allocate()
	runtime.GC()
	heap, err := os.Create(filepath.Join(dir, "heap.pb.gz"))
	if err != nil {
		panic(err)
	}
	if err := pprof.Lookup("heap").WriteTo(heap, 0); err != nil {
		panic(err)
	}
	heap.Close()
}
