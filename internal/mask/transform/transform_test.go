package transform

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
)

var testKey, _ = NewKey([]byte("0123456789abcdef-test-key"))

func fake(t *testing.T, w *Worker, name, orig string, col Column) string {
	t.Helper()
	tr, ok := Builtin().Get(name)
	if !ok {
		t.Fatalf("no transformer %q", name)
	}
	out, err := w.Fake(nil, tr, []byte(orig), col)
	if err != nil {
		t.Fatalf("Fake(%s, %q) = %v", name, orig, err)
	}
	return string(out)
}

func TestTransformers(t *testing.T) {
	w := testKey.NewWorker(nil)
	vc := func(n int64) Column { return Column{DataType: "varchar", Length: n} }
	tests := []struct {
		name, transformer, orig string
		col                     Column
		want                    *regexp.Regexp
	}{
		{"email on a reserved domain", "email", "jane.doe@gmail.com", vc(255), regexp.MustCompile(`^[a-z]+\.[a-z]+\d{0,4}@example\.com$`)},
		{"email in a narrow column", "email", "jd@acme.io", vc(20), regexp.MustCompile(`^u[0-9a-z]+@x\.invalid$`)},
		{"first name keeps upper case", "first-name", "JANE", vc(40), regexp.MustCompile(`^[A-Z]+$`)},
		{"last name keeps lower case", "last-name", "doe", vc(40), regexp.MustCompile(`^[a-z]+$`)},
		{"full name", "full-name", "Jane Doe", vc(80), regexp.MustCompile(`^[A-Z][a-z]+ [A-Z][a-z]+$`)},
		{"full name truncated to the column", "full-name", "Jane Doe", vc(6), regexp.MustCompile(`^.{1,6}$`)},
		{"phone keeps format and country code", "phone", "+33 6 12 34 56 78", vc(30), regexp.MustCompile(`^\+33 [1-9] \d\d \d\d \d\d \d\d$`)},
		{"phone keeps a trunk zero", "phone", "06-12-34-56-78", vc(30), regexp.MustCompile(`^0\d-\d\d-\d\d-\d\d-\d\d$`)},
		{"phone in a number column keeps its length", "phone", "14155550123", Column{DataType: "bigint"}, regexp.MustCompile(`^[1-9]\d{10}$`)},
		{"national id keeps letters and digits", "national-id", "AB-123456-C", vc(20), regexp.MustCompile(`^[A-Z]{2}-\d{6}-[A-Z]$`)},
		{"postcode", "postcode", "SW1A 1AA", vc(10), regexp.MustCompile(`^[A-Z]{2}\d[A-Z] \d[A-Z]{2}$`)},
		{"card keeps grouping", "card", "4111 1111 1111 1111", vc(30), regexp.MustCompile(`^4\d{3} \d{4} \d{4} \d{4}$`)},
		{"iban keeps country and layout", "iban", "FR76 3000 6000 0112 3456 7890 189", vc(40), regexp.MustCompile(`^FR\d\d( \d{4}){5} \d{3}$`)},
		{"street", "street", "12 rue de la Paix", vc(100), regexp.MustCompile(`^\d{1,4} \S+ [A-Za-z ]+$`)},
		{"address", "address", "12 rue de la Paix, 75002 Paris", vc(200), regexp.MustCompile(`^\d{1,4} .+, \d{5} .+$`)},
		{"ipv4 from 10/8", "ip", "192.168.1.20", vc(45), regexp.MustCompile(`^10\.\d+\.\d+\.\d+$`)},
		{"ipv6 from the documentation range", "ip", "2a01:e0a::1", vc(45), regexp.MustCompile(`^2001:db8(:[0-9a-f]{1,4}){6}$`)},
		{"date of birth keeps the layout", "date", "1985-03-04", Column{DataType: "date"}, regexp.MustCompile(`^\d{4}-\d\d-\d\d$`)},
		{"datetime keeps the time", "date", "1985-03-04 10:20:30", Column{DataType: "datetime"}, regexp.MustCompile(`^\d{4}-\d\d-\d\d 10:20:30$`)},
		{"free text", "text", "Please call me back after 6pm, my number changed.", vc(500), regexp.MustCompile(`^[A-Z][A-Za-z .]+\.$`)},
		{"secret keeps character classes", "secret", "sk_" + "live_4eC39HqLyjWDarjtT1zdp7dc", vc(64), regexp.MustCompile(shapeOf("sk_" + "live_4eC39HqLyjWDarjtT1zdp7dc"))},
		{"uuid", "uuid", "3F2504E0-4F89-11D3-9A0C-0305E82C3301", vc(36), regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)},
		{"username", "username", "jdoe42", vc(40), regexp.MustCompile(`^[a-z]+\d+$`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := fake(t, w, tc.transformer, tc.orig, tc.col)
			if !tc.want.MatchString(got) {
				t.Errorf("%s(%q) = %q, want it to match %s", tc.transformer, tc.orig, got, tc.want)
			}
			if got == tc.orig {
				t.Errorf("%s(%q) returned the original", tc.transformer, tc.orig)
			}
			if tc.col.Length > 0 && int64(len(got)) > tc.col.Length {
				t.Errorf("%s(%q) = %q: %d characters, column holds %d", tc.transformer, tc.orig, got, len(got), tc.col.Length)
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	w1, w2 := testKey.NewWorker(nil), testKey.NewWorker(nil)
	other, _ := NewKey([]byte("another-key-of-16-bytes-or-more"))
	w3 := other.NewWorker(nil)
	col := Column{DataType: "varchar", Length: 255}
	for _, name := range []string{"email", "full-name", "phone", "card", "iban", "street", "text", "secret"} {
		orig := map[string]string{"phone": "+1 415 555 0123", "card": "4111111111111111", "iban": "DE89370400440532013000"}[name]
		if orig == "" {
			orig = "jane.doe@example.org"
		}
		a, b := fake(t, w1, name, orig, col), fake(t, w2, name, orig, col)
		if a != b {
			t.Errorf("%s(%q) = %q then %q: not deterministic", name, orig, a, b)
		}
		if c := fake(t, w3, name, orig, col); c == a {
			t.Errorf("%s(%q) = %q under two keys", name, orig, a)
		}
	}
	if a, b := fake(t, w1, "email", "a@x.org", col), fake(t, w1, "email", "b@x.org", col); a == b {
		t.Errorf("two originals share the fake %q", a)
	}
}

func TestCardsAndIBANsValidate(t *testing.T) {
	w := testKey.NewWorker(nil)
	col := Column{DataType: "varchar", Length: 40}
	for i := 0; i < 500; i++ {
		card := fake(t, w, "card", fmt.Sprintf("5%015d", i*7919), col)
		if !LuhnValid([]byte(card)) {
			t.Fatalf("card fake %q fails the Luhn check", card)
		}
		iban := fake(t, w, "iban", fmt.Sprintf("GB82 WEST 1234 5698 %04d 32", i), col)
		if !IBANValid([]byte(iban)) {
			t.Fatalf("iban fake %q has wrong check digits", iban)
		}
	}
	if !IBANValid([]byte("GB82 WEST 1234 5698 7654 32")) || IBANValid([]byte("GB83 WEST 1234 5698 7654 32")) {
		t.Errorf("IBANValid disagrees with the reference IBAN")
	}
	if !LuhnValid([]byte("4111 1111 1111 1111")) || LuhnValid([]byte("4111 1111 1111 1112")) {
		t.Errorf("LuhnValid disagrees with the reference card")
	}
	ip := fake(t, w, "ip", "8.8.8.8", col)
	if a, err := netip.ParseAddr(ip); err != nil || !netip.MustParsePrefix("10.0.0.0/8").Contains(a) {
		t.Errorf("ip fake %q is not in 10.0.0.0/8", ip)
	}
}

func TestAccepts(t *testing.T) {
	r := Builtin()
	tests := []struct {
		transformer, dataType string
		want                  bool
	}{
		{"email", "varchar", true},
		{"email", "int", false},
		{"phone", "bigint", true},
		{"phone", "double", false},
		{"date", "date", true},
		{"date", "time", false},
		{"secret", "varbinary", true},
		{"json", "json", true},
		{"json", "int", false},
		{"keep", "point", true},
	}
	for _, tc := range tests {
		tr, _ := r.Get(tc.transformer)
		if got := tr.Accepts(Column{DataType: tc.dataType}); got != tc.want {
			t.Errorf("%s.Accepts(%s) = %v, want %v", tc.transformer, tc.dataType, got, tc.want)
		}
	}
}

func TestRegistryRejectsDuplicates(t *testing.T) {
	if _, err := New(Email{}, Phone{}, Email{}); err == nil || !strings.Contains(err.Error(), `"email" registered twice`) {
		t.Errorf("New(email, phone, email) = %v, want a duplicate error", err)
	}
	names := Names()
	for _, want := range []string{"keep", "null", "json", "email", "card", "iban"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("Names() = %q, want %q in it", names, want)
		}
	}
}

func TestKeyID(t *testing.T) {
	if _, err := NewKey([]byte("short")); err == nil {
		t.Errorf("NewKey(5 bytes) accepted a short key")
	}
	id := testKey.ID()
	if len(id) != 12 || strings.Contains(testKey.String(), "0123456789abcdef") {
		t.Errorf("ID() = %q, String() = %q: want 12 hex digits and no key material", id, testKey.String())
	}
}

// tiny is a transformer with three possible fakes.
type tiny struct{}

func (tiny) Name() string { return "tiny" }
func (tiny) Apply(dst, _ []byte, r *Rand, _ Column) ([]byte, error) {
	return append(dst, byte('a'+r.IntN(3))), nil
}
func (tiny) Accepts(Column) bool  { return true }
func (tiny) Space(Column) float64 { return 3 }
func (tiny) Identifying() bool    { return false }

func TestDomainsKeepUniqueColumnsUnique(t *testing.T) {
	d := NewDomains()
	w := testKey.NewWorker(d)
	seen := map[string]string{}
	for i := 0; i < 3; i++ {
		orig := fmt.Sprintf("v%d", i)
		out, err := d.Reserve(w, nil, tiny{}, []byte(orig), Column{})
		if err != nil {
			t.Fatalf("Reserve(%s) = %v", orig, err)
		}
		if prev, ok := seen[string(out)]; ok {
			t.Fatalf("%s and %s share the fake %q", prev, orig, out)
		}
		seen[string(out)] = orig
		// The same original keeps its fake, through Reserve and through
		// Fake (the re-draw is recorded).
		again, _ := d.Reserve(w, nil, tiny{}, []byte(orig), Column{})
		viaFake, _ := w.Fake(nil, tiny{}, []byte(orig), Column{})
		if string(again) != string(out) || string(viaFake) != string(out) {
			t.Errorf("%s: reserved %q, then %q, Fake %q", orig, out, again, viaFake)
		}
	}
	_, err := d.Reserve(w, nil, tiny{}, []byte("v3"), Column{})
	if !errors.Is(err, ErrSpace) || !strings.Contains(err.Error(), "3 fakes in use") {
		t.Errorf("Reserve(4th value of a 3-value space) = %v, want ErrSpace naming the fakes in use", err)
	}
}

func TestFormatSpace(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{{3, "3"}, {2.5e7, "2.5e+07"}, {math.Inf(1), "unlimited"}} {
		if got := FormatSpace(tc.in); got != tc.want {
			t.Errorf("FormatSpace(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// shapeOf is a pattern matching strings with s's character classes.
func shapeOf(s string) string {
	var b strings.Builder
	b.WriteString("^")
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			b.WriteString(`\d`)
		case c >= 'a' && c <= 'z':
			b.WriteString("[a-z]")
		case c >= 'A' && c <= 'Z':
			b.WriteString("[A-Z]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String() + "$"
}

func TestClaimInWriteOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func() *Domains
	}{
		{"every transformer", func() *Domains { return NewDomains(10) }},
		{"named transformers", func() *Domains { return NewDomainsFor([]string{"tiny"}, 10) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.new()
			w := testKey.NewWorker(d)
			seen := map[string]bool{}
			for i := 0; i < 3; i++ {
				orig := []byte(fmt.Sprintf("v%d", i))
				fake, seed, attempt, err := w.FakeInfo(nil, tiny{}, orig, Column{})
				if err != nil {
					t.Fatal(err)
				}
				d.Warm("tiny", []uint64{Fingerprint(fake)}, []uint64{seed})
				out, _, err := d.Claim(w, nil, tiny{}, orig, seed, attempt, fake, Fingerprint(fake), Column{})
				if err != nil {
					t.Fatalf("Claim(%s) = %v", orig, err)
				}
				if seen[string(out)] {
					t.Fatalf("Claim gave %q twice", out)
				}
				seen[string(out)] = true
				if !d.Written("tiny", seed, d.Attempt("tiny", seed)) {
					t.Errorf("Written(%s) with its current draw = false", orig)
				}
				// Workers see the draw number Claim recorded.
				if again, _ := w.Fake(nil, tiny{}, orig, Column{}); string(again) != string(out) {
					t.Errorf("%s: claimed %q, Fake now gives %q", orig, out, again)
				}
			}
			// A value written with its first draw cannot be drawn again later.
			d2 := tc.new()
			w2 := testKey.NewWorker(d2)
			var claimed []byte
			for i := 0; ; i++ {
				orig := []byte(fmt.Sprintf("x%d", i))
				fake, seed, attempt, _ := w2.FakeInfo(nil, tiny{}, orig, Column{})
				if claimed == nil {
					d2.Claim(w2, nil, tiny{}, orig, seed, attempt, fake, Fingerprint(fake), Column{})
					claimed = fake
					continue
				}
				if string(fake) != string(claimed) {
					continue
				}
				d2.Written("tiny", seed, attempt) // written elsewhere first
				if _, _, err := d2.Claim(w2, nil, tiny{}, orig, seed, attempt, fake, Fingerprint(fake), Column{}); !errors.Is(err, ErrDrawnAfterUse) {
					t.Errorf("Claim after the value was written = %v, want ErrDrawnAfterUse", err)
				}
				break
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	for _, good := range []string{"2024-02-29", "1999-12-31", "2000-01-01"} {
		want, _ := time.Parse(time.DateOnly, good)
		if y, m, d, ok := parseDate([]byte(good)); !ok || y != want.Year() || m != int(want.Month()) || d != want.Day() {
			t.Errorf("parseDate(%q) = %d-%d-%d, %v; want the date", good, y, m, d, ok)
		}
	}
	for _, bad := range []string{"2023-02-29", "1999-13-01", "1999-00-10", "19x9-01-01"} {
		if _, _, _, ok := parseDate([]byte(bad)); ok {
			t.Errorf("parseDate(%q) accepted an impossible date", bad)
		}
	}
}
