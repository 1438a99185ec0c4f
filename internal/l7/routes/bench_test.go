package routes

import (
	"runtime"
	"strconv"
	"testing"
	"time"
)

const benchRequests = 1_000_000

// benchRequest writes request i of a REST and gRPC API whose paths carry
// a fresh object id (numbers, UUID-shaped, hex, names) almost every time.
func benchRequest(buf []byte, i int) (method string, url []byte) {
	buf = append(buf[:0], "http://shop.default:8080"...)
	id := strconv.AppendInt(nil, int64(i), 10)
	switch i % 8 {
	case 0:
		buf = append(append(append(buf, "/api/v1/users/"...), id...), "/orders?page="...)
		return "GET", strconv.AppendInt(buf, int64(i%7), 10)
	case 1:
		buf = append(append(buf, "/api/v1/products/"...), id...)
		return "GET", buf
	case 2:
		buf = append(append(append(buf, "/api/v1/carts/"...), id...), "/items"...)
		return "POST", buf
	case 3:
		buf = append(append(buf, "/api/v1/carts/"...), id...)
		return "PUT", buf
	case 4:
		buf = append(buf, "/api/v1/sessions/"...)
		buf = strconv.AppendUint(buf, 0xa000000000000000|uint64(i)*0x9e3779b97f4a7c15>>4, 16)
		return "DELETE", buf
	case 5:
		buf = append(append(append(buf, "/static/img/item-"...), id...), ".png"...)
		return "GET", buf
	case 6:
		buf = append(buf, "/api/v1/orders/00000000-0000-4000-8000-"...)
		s := strconv.AppendInt(nil, int64(1_000_000_000_000+i), 10)
		return "GET", append(buf, s...)
	}
	return "POST", append(buf, "/shop.CartService/GetCart"...)
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkTemplate1M folds 1M requests (one iteration) into a route
// table and, in the same run, into the baseline: a map of literal
// "METHOD path" strings, as a one-rule-per-path generator keeps. Reported:
// time per request and bytes retained for each, their ratios, and the
// routes each ends with.
func BenchmarkTemplate1M(b *testing.B) {
	var buf []byte
	var tplNS, litNS, tplHeld, litHeld, tplRoutes, litRoutes float64
	for range b.N {
		before := heapAlloc()
		start := time.Now()
		tab := New(Options{})
		for i := range benchRequests {
			m, u := benchRequest(buf, i)
			buf = u
			proto := "HTTP/1.1"
			if i%8 == 7 {
				proto = "HTTP/2"
			}
			if err := tab.Add(Request{Method: m, URL: string(u), Protocol: proto}); err != nil {
				b.Fatal(err)
			}
		}
		tplNS += float64(time.Since(start).Nanoseconds()) / benchRequests
		tplHeld += float64(heapAlloc() - before)
		tplRoutes += float64(tab.Len())
		runtime.KeepAlive(tab)

		before = heapAlloc()
		start = time.Now()
		lit := map[string]uint64{}
		for i := range benchRequests {
			m, u := benchRequest(buf, i)
			buf = u
			lit[m+" "+string(u)]++
		}
		litNS += float64(time.Since(start).Nanoseconds()) / benchRequests
		litHeld += float64(heapAlloc() - before)
		litRoutes += float64(len(lit))
		runtime.KeepAlive(lit)
	}
	n := float64(b.N)
	b.ReportMetric(tplNS/n, "templated-ns/req")
	b.ReportMetric(litNS/n, "literal-ns/req")
	b.ReportMetric(tplNS/litNS, "time-ratio")
	b.ReportMetric(tplHeld/n, "templated-retained-B")
	b.ReportMetric(litHeld/n, "literal-retained-B")
	b.ReportMetric(litHeld/max(tplHeld, 1), "retained-saving-x")
	b.ReportMetric(tplRoutes/n, "templated-routes")
	b.ReportMetric(litRoutes/n, "literal-routes")
}
