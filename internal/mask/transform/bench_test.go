package transform

import (
	"strconv"
	"testing"
)

// BenchmarkFake measures the cost of one value per transformer: the keyed
// hash, the reseed and the generator (make bench reports ns/op = per value).
func BenchmarkFake(b *testing.B) {
	origs := map[string]string{
		"email": "jane.doe@gmail.com", "first-name": "Jane", "last-name": "Doe", "full-name": "Jane Doe",
		"phone": "+33 6 12 34 56 78", "national-id": "1 85 03 75 123 456 78", "card": "4111 1111 1111 1111",
		"iban": "FR76 3000 6000 0112 3456 7890 189", "street": "12 rue de la Paix", "address": "12 rue de la Paix, 75002 Paris",
		"ip": "192.168.1.20", "date": "1985-03-04", "text": "Please call me back after 6pm, my number changed.",
		"secret": "sk_" + "live_4eC39HqLyjWDarjtT1zdp7dc", "uuid": "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "username": "jdoe42",
		"city": "Paris", "postcode": "75002",
	}
	r := Builtin()
	col := Column{DataType: "varchar", Length: 255}
	for _, name := range r.Names() {
		orig, ok := origs[name]
		if !ok {
			continue
		}
		t, _ := r.Get(name)
		b.Run(name, func(b *testing.B) {
			w := testKey.NewWorker(nil)
			var dst []byte
			// Distinct originals, as in a real column.
			vals := make([][]byte, 1024)
			for i := range vals {
				vals[i] = []byte(orig + strconv.Itoa(i))
			}
			if name == "date" || name == "ip" {
				for i := range vals {
					vals[i] = []byte(orig)
				}
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				var err error
				dst, err = w.Fake(dst[:0], t, vals[i&1023], col)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSeed is the keyed hash alone (HMAC-SHA256 of a short value).
func BenchmarkSeed(b *testing.B) {
	h := testKey.NewHasher()
	v := []byte("jane.doe@gmail.com")
	for b.Loop() {
		h.Seed(v)
	}
}

// BenchmarkClaim is the writer's in-order check of a unique column: 1,000,000
// distinct emails claimed one after another, each run of 256 warmed first as
// the writer does (ns/op is per value).
func BenchmarkClaim(b *testing.B) {
	const n, run = 1 << 20, 256
	w := testKey.NewWorker(nil)
	var t Email
	col := Column{DataType: "varchar", Length: 255}
	origs, fakes := make([][]byte, n), make([][]byte, n)
	seeds, fps := make([]uint64, n), make([]uint64, n)
	for i := range origs {
		origs[i] = []byte("jane.doe" + strconv.Itoa(i) + "@gmail.com")
		seeds[i] = w.Seed(origs[i])
		fakes[i], _ = w.FakeSeeded(nil, t, origs[i], seeds[i], 0, col)
		fps[i] = Fingerprint(fakes[i])
	}
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		d := NewDomainsFor([]string{"email"}, 2*n)
		b.StartTimer()
		for i := 0; i < n && done < b.N; i, done = i+1, done+1 {
			if i%run == 0 {
				end := min(i+run, n)
				d.Warm("email", fps[i:end], seeds[i:end])
			}
			if _, _, err := d.Claim(w, nil, t, origs[i], seeds[i], 0, fakes[i], fps[i], col); err != nil {
				b.Fatal(err)
			}
		}
	}
}
