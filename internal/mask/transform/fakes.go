package transform

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/brianvoe/gofakeit/v7/data"
)

// builtins is the list behind Builtin, in no particular order.
func builtins() []Transformer {
	return []Transformer{
		Keep{}, Null{}, JSONDoc{},
		Email{}, FirstName, LastName, FullName{}, Username{},
		Phone{}, NationalID{}, Card{}, IBAN{},
		Street{}, City{}, Postcode{}, Address{},
		IP{}, Date{}, FreeText{}, Secret{}, UUID{},
	}
}

// Every transformer satisfies the interface.
var (
	_ Transformer = Keep{}
	_ Transformer = Null{}
	_ Transformer = JSONDoc{}
	_ Transformer = Email{}
	_ Transformer = ListName{}
	_ Transformer = FullName{}
	_ Transformer = Username{}
	_ Transformer = Phone{}
	_ Transformer = NationalID{}
	_ Transformer = Card{}
	_ Transformer = IBAN{}
	_ Transformer = Street{}
	_ Transformer = City{}
	_ Transformer = Postcode{}
	_ Transformer = Address{}
	_ Transformer = IP{}
	_ Transformer = Date{}
	_ Transformer = FreeText{}
	_ Transformer = Secret{}
	_ Transformer = UUID{}
)

var (
	firstNames  = data.Person["first"]
	lastNames   = data.Person["last"]
	streetNames = data.Address["street_name"]
	streetSufs  = data.Address["street_suffix"]
	cities      = data.Address["city"]
	loremWords  = data.Lorem["word"]
)

func textual(col Column) bool { return ClassOf(col.DataType) == Text }

// fits reports whether s fits col.
func fits(n int, col Column) bool { return col.Length <= 0 || int64(n) <= col.Length }

// truncate cuts b (appended from start) to the column's length, at a space
// when one is near the end.
func truncate(b []byte, start int, col Column) []byte {
	if fits(len(b)-start, col) {
		return b
	}
	end := start + int(col.Length)
	for i := end; i > start+int(col.Length)/2; i-- {
		if b[i] == ' ' {
			return trimRight(b[:i], start)
		}
	}
	return trimRight(b[:end], start)
}

func trimRight(b []byte, start int) []byte {
	for len(b) > start && (b[len(b)-1] == ' ' || b[len(b)-1] == ',') {
		b = b[:len(b)-1]
	}
	return b
}

// appendCased appends s in the case style of orig: all upper, all lower, or
// as given.
func appendCased(dst []byte, s string, orig []byte) []byte {
	up, low := false, false
	for _, c := range orig {
		switch {
		case c >= 'a' && c <= 'z':
			low = true
		case c >= 'A' && c <= 'Z':
			up = true
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case up && !low && c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case low && !up && c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func appendLowerAlnum(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			dst = append(dst, c)
		}
	}
	return dst
}

func pick(r *Rand, list []string) string { return list[r.IntN(len(list))] }

// Keep writes the original unchanged.
type Keep struct{}

func (Keep) Name() string { return "keep" }
func (Keep) Apply(dst, orig []byte, _ *Rand, _ Column) ([]byte, error) {
	return append(dst, orig...), nil
}
func (Keep) Accepts(Column) bool  { return true }
func (Keep) Space(Column) float64 { return math.Inf(1) }
func (Keep) Identifying() bool    { return false }

// Null writes NULL; the column must be nullable.
type Null struct{}

func (Null) Name() string { return "null" }
func (Null) Apply(dst, _ []byte, _ *Rand, _ Column) ([]byte, error) {
	return dst, fmt.Errorf("null writes no value") // the masker writes NULL itself
}
func (Null) Accepts(Column) bool  { return true }
func (Null) Space(Column) float64 { return 1 }
func (Null) Identifying() bool    { return false }

// JSONDoc masks the values nested in a JSON document, each path by the
// transformer rules chose for it; the masker walks the document.
type JSONDoc struct{}

func (JSONDoc) Name() string { return "json" }
func (JSONDoc) Apply(dst, _ []byte, _ *Rand, _ Column) ([]byte, error) {
	return dst, fmt.Errorf("json documents are walked by the masker")
}
func (JSONDoc) Accepts(col Column) bool {
	c := ClassOf(col.DataType)
	return c == JSON || c == Text
}
func (JSONDoc) Space(Column) float64 { return math.Inf(1) }
func (JSONDoc) Identifying() bool    { return false }

// Email writes first.last<n>@example.com (RFC 2606 reserved domain), shorter
// forms when the column is narrow.
type Email struct{}

func (Email) Name() string { return "email" }
func (Email) Apply(dst, orig []byte, r *Rand, col Column) ([]byte, error) {
	first, last, n := pick(r, firstNames), pick(r, lastNames), r.IntN(10000)
	start := len(dst)
	dst = appendLowerAlnum(dst, first)
	dst = append(dst, '.')
	dst = appendLowerAlnum(dst, last)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, "@example.com"...)
	if fits(len(dst)-start, col) {
		return dst, nil
	}
	// Narrow column: u<digits>@x.invalid (RFC 2606 reserved TLD).
	dst = dst[:start]
	dst = append(dst, 'u')
	dst = strconv.AppendUint(dst, r.Uint64()%1e12, 36)
	dst = append(dst, "@x.invalid"...)
	if !fits(len(dst)-start, col) {
		return dst[:start], fmt.Errorf("email: column holds %d characters, too few for an address", col.Length)
	}
	return dst, nil
}
func (Email) Accepts(col Column) bool { return textual(col) }
func (Email) Space(col Column) float64 {
	return float64(len(firstNames)) * float64(len(lastNames)) * 10000
}
func (Email) Identifying() bool { return true }

// ListName writes a word picked from a list (first names, last names) in
// the original's case style.
type ListName struct {
	name string
	list []string
}

// FirstName and LastName are the list transformers of the registry.
var (
	FirstName = ListName{"first-name", firstNames}
	LastName  = ListName{"last-name", lastNames}
)

func (t ListName) Name() string { return t.name }
func (t ListName) Apply(dst, orig []byte, r *Rand, col Column) ([]byte, error) {
	start := len(dst)
	return truncate(appendCased(dst, pick(r, t.list), orig), start, col), nil
}
func (ListName) Accepts(col Column) bool { return textual(col) }
func (t ListName) Space(Column) float64  { return float64(len(t.list)) }
func (ListName) Identifying() bool       { return false }

// FullName writes "First Last" in the original's case style.
type FullName struct{}

func (FullName) Name() string { return "full-name" }
func (FullName) Apply(dst, orig []byte, r *Rand, col Column) ([]byte, error) {
	start := len(dst)
	dst = appendCased(dst, pick(r, firstNames), orig)
	dst = append(dst, ' ')
	dst = appendCased(dst, pick(r, lastNames), orig)
	return truncate(dst, start, col), nil
}
func (FullName) Accepts(col Column) bool { return textual(col) }
func (FullName) Space(Column) float64 {
	return float64(len(firstNames)) * float64(len(lastNames))
}
func (FullName) Identifying() bool { return false }

// Username writes a login handle: a name and digits.
type Username struct{}

func (Username) Name() string { return "username" }
func (Username) Apply(dst, orig []byte, r *Rand, col Column) ([]byte, error) {
	start := len(dst)
	dst = appendLowerAlnum(dst, pick(r, firstNames))
	dst = appendLowerAlnum(dst, pick(r, lastNames)[:1])
	dst = strconv.AppendInt(dst, int64(r.IntN(100000)), 10)
	if !fits(len(dst)-start, col) {
		dst = dst[:start]
		dst = append(dst, 'u')
		dst = strconv.AppendUint(dst, r.Uint64(), 36)
		dst = truncate(dst, start, col)
	}
	return dst, nil
}
func (Username) Accepts(col Column) bool { return textual(col) }
func (Username) Space(col Column) float64 {
	return float64(len(firstNames)) * 26 * 100000
}
func (Username) Identifying() bool { return true }

// pattern rewrites orig character by character: digits become random digits,
// letters random letters of the same case, everything else stays. keepDigits
// leading digits are kept; a leading zero stays a zero (trunk prefixes), a
// leading non-zero digit stays non-zero (numbers keep their length).
func pattern(dst, orig []byte, r *Rand, keepDigits int) []byte {
	digits := 0
	for _, c := range orig {
		switch {
		case c >= '0' && c <= '9':
			switch {
			case digits < keepDigits:
				dst = append(dst, c)
			case digits == keepDigits && c == '0':
				dst = append(dst, '0')
			case digits == keepDigits:
				dst = append(dst, byte('1'+r.IntN(9)))
			default:
				dst = append(dst, byte('0'+r.IntN(10)))
			}
			digits++
		case c >= 'a' && c <= 'z':
			dst = append(dst, byte('a'+r.IntN(26)))
		case c >= 'A' && c <= 'Z':
			dst = append(dst, byte('A'+r.IntN(26)))
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func patternSpace(col Column) float64 {
	if col.Length <= 0 {
		return math.Inf(1)
	}
	if ClassOf(col.DataType) == Number {
		return math.Pow(10, float64(col.Length))
	}
	return math.Pow(36, float64(col.Length))
}

func digitsOrText(col Column) bool {
	c := ClassOf(col.DataType)
	return c == Text || (c == Number && col.DataType != "float" && col.DataType != "double" && col.DataType != "real")
}

// Phone keeps the format (separators, a leading + and country code, a trunk
// zero) and draws every other digit.
type Phone struct{}

func (Phone) Name() string { return "phone" }
func (Phone) Apply(dst, orig []byte, r *Rand, col Column) ([]byte, error) {
	keep := 0
	if len(orig) > 1 && orig[0] == '+' {
		// The country code: digits up to the first separator, at most 3;
		// one digit when the number has no separators.
		keep = 1
		for i := 1; i < len(orig) && i <= 4; i++ {
			if orig[i] < '0' || orig[i] > '9' {
				if i-1 <= 3 {
					keep = i - 1
				}
				break
			}
		}
	}
	return pattern(dst, orig, r, keep), nil
}
func (Phone) Accepts(col Column) bool { return digitsOrText(col) }
func (Phone) Space(col Column) float64 {
	if col.Length > 0 {
		return math.Pow(10, float64(min(col.Length, 15)-3))
	}
	return 1e9
}
func (Phone) Identifying() bool { return true }

// NationalID keeps the format of an identity number (separators, letter and
// digit positions) and draws every character.
type NationalID struct{}

func (NationalID) Name() string { return "national-id" }
func (NationalID) Apply(dst, orig []byte, r *Rand, _ Column) ([]byte, error) {
	return pattern(dst, orig, r, 0), nil
}
func (NationalID) Accepts(col Column) bool  { return digitsOrText(col) }
func (NationalID) Space(col Column) float64 { return patternSpace(col) }
func (NationalID) Identifying() bool        { return true }

// Postcode keeps the format of a postal code and draws every character.
type Postcode struct{}

func (Postcode) Name() string { return "postcode" }
func (Postcode) Apply(dst, orig []byte, r *Rand, _ Column) ([]byte, error) {
	return pattern(dst, orig, r, 0), nil
}
func (Postcode) Accepts(col Column) bool  { return digitsOrText(col) }
func (Postcode) Space(col Column) float64 { return patternSpace(col) }
func (Postcode) Identifying() bool        { return false }

// Card writes a card number of the same length and grouping, same first digit
// (the network), with a valid Luhn check digit.
type Card struct{}

func (Card) Name() string { return "card" }
func (Card) Apply(dst, orig []byte, r *Rand, _ Column) ([]byte, error) {
	n := 0
	for _, c := range orig {
		if c >= '0' && c <= '9' {
			n++
		}
	}
	if n < 2 {
		return pattern(dst, orig, r, 0), nil
	}
	start := len(dst)
	dst = pattern(dst, orig, r, 1)
	// Recompute the last digit: the Luhn sum over the others, doubling
	// every second digit from the right (the check digit is position 0).
	sum, pos, last := 0, 0, -1
	for i := len(dst) - 1; i >= start; i-- {
		c := dst[i]
		if c < '0' || c > '9' {
			continue
		}
		if last < 0 {
			last = i
			pos++
			continue
		}
		d := int(c - '0')
		if pos%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		pos++
	}
	dst[last] = byte('0' + (10-sum%10)%10)
	return dst, nil
}
func (Card) Accepts(col Column) bool { return digitsOrText(col) }
func (Card) Space(col Column) float64 {
	if col.Length > 0 {
		return math.Pow(10, float64(min(col.Length, 19)-2))
	}
	return 1e14
}
func (Card) Identifying() bool { return true }

// LuhnValid reports whether the digits of s pass the Luhn check.
func LuhnValid(s []byte) bool {
	sum, pos := 0, 0
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c == ' ' || c == '-' {
			continue
		}
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if pos%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		pos++
	}
	return pos >= 2 && sum%10 == 0
}

// IBAN keeps the country and the layout, draws the account part and
// recomputes the check digits, so the fake passes IBAN validation.
type IBAN struct{}

func (IBAN) Name() string { return "iban" }
func (IBAN) Apply(dst, orig []byte, r *Rand, col Column) ([]byte, error) {
	start := len(dst)
	// Position (among non-space characters) 0-1 country, 2-3 check digits.
	k := 0
	var checkAt [2]int
	for _, c := range orig {
		if c == ' ' {
			dst = append(dst, c)
			continue
		}
		switch {
		case k < 2:
			dst = append(dst, upper(c))
		case k < 4:
			checkAt[k-2] = len(dst)
			dst = append(dst, '0')
		case c >= '0' && c <= '9':
			dst = append(dst, byte('0'+r.IntN(10)))
		default:
			dst = append(dst, byte('A'+r.IntN(26)))
		}
		k++
	}
	if k < 5 {
		return dst[:start], fmt.Errorf("iban: %d characters, not an IBAN", k)
	}
	check := 98 - ibanMod(dst[start:])
	dst[checkAt[0]] = byte('0' + check/10)
	dst[checkAt[1]] = byte('0' + check%10)
	return dst, nil
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// ibanMod is the ISO 7064 mod 97 of an IBAN (spaces ignored): the account
// part, then the country and check digits, letters as 10..35.
func ibanMod(s []byte) int {
	var compact []byte
	for _, c := range s {
		if c != ' ' {
			compact = append(compact, upper(c))
		}
	}
	if len(compact) < 4 {
		return -1
	}
	rearranged := append(append([]byte{}, compact[4:]...), compact[:4]...)
	m := 0
	for _, c := range rearranged {
		switch {
		case c >= '0' && c <= '9':
			m = (m*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			m = (m*100 + int(c-'A'+10)) % 97
		default:
			return -1
		}
	}
	return m
}

// IBANValid reports whether s is an IBAN with correct check digits.
func IBANValid(s []byte) bool {
	n := 0
	for _, c := range s {
		if c != ' ' {
			n++
		}
	}
	if n < 15 || n > 34 {
		return false
	}
	if !(isLetter(s[0]) && isLetter(s[1])) {
		return false
	}
	return ibanMod(s) == 1
}

func isLetter(c byte) bool           { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') }
func (IBAN) Accepts(col Column) bool { return textual(col) }
func (IBAN) Space(col Column) float64 {
	if col.Length > 0 {
		return math.Pow(10, float64(min(col.Length, 34)-4))
	}
	return 1e18
}
func (IBAN) Identifying() bool { return true }

func appendStreet(dst []byte, r *Rand) []byte {
	dst = strconv.AppendInt(dst, int64(1+r.IntN(9999)), 10)
	dst = append(dst, ' ')
	dst = append(dst, pick(r, lastNames)...)
	dst = append(dst, ' ')
	dst = append(dst, pick(r, streetNames)...)
	if r.IntN(2) == 0 {
		dst = append(dst, pick(r, streetSufs)...)
	}
	return dst
}

// Street writes "<number> <name> <street type>".
type Street struct{}

func (Street) Name() string { return "street" }
func (Street) Apply(dst, _ []byte, r *Rand, col Column) ([]byte, error) {
	start := len(dst)
	return truncate(appendStreet(dst, r), start, col), nil
}
func (Street) Accepts(col Column) bool { return textual(col) }
func (Street) Space(Column) float64 {
	return 9999 * float64(len(lastNames)) * float64(len(streetNames))
}
func (Street) Identifying() bool { return true }

// City writes a city name.
type City struct{}

func (City) Name() string { return "city" }
func (City) Apply(dst, orig []byte, r *Rand, col Column) ([]byte, error) {
	start := len(dst)
	return truncate(appendCased(dst, pick(r, cities), orig), start, col), nil
}
func (City) Accepts(col Column) bool { return textual(col) }
func (City) Space(Column) float64    { return float64(len(cities)) }
func (City) Identifying() bool       { return false }

// Address writes a one-line postal address: street, city and a postcode.
type Address struct{}

func (Address) Name() string { return "address" }
func (Address) Apply(dst, _ []byte, r *Rand, col Column) ([]byte, error) {
	start := len(dst)
	dst = appendStreet(dst, r)
	dst = append(dst, ", "...)
	dst = strconv.AppendInt(dst, int64(10000+r.IntN(90000)), 10)
	dst = append(dst, ' ')
	dst = append(dst, pick(r, cities)...)
	return truncate(dst, start, col), nil
}
func (Address) Accepts(col Column) bool { return textual(col) }
func (Address) Space(Column) float64 {
	return 9999 * float64(len(lastNames)) * float64(len(streetNames)) * 90000
}
func (Address) Identifying() bool { return true }

// IP writes an address of the original's family from private or
// documentation ranges: 10.0.0.0/8 for IPv4, 2001:db8::/32 for IPv6.
type IP struct{}

func (IP) Name() string { return "ip" }
func (IP) Apply(dst, orig []byte, r *Rand, _ Column) ([]byte, error) {
	for _, c := range orig {
		if c == ':' {
			dst = append(dst, "2001:db8"...)
			for i := 0; i < 6; i++ {
				dst = append(dst, ':')
				dst = strconv.AppendUint(dst, uint64(r.IntN(0x10000)), 16)
			}
			return dst, nil
		}
	}
	v := r.Uint64()
	dst = append(dst, "10."...)
	dst = strconv.AppendUint(dst, v&0xff, 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, (v>>8)&0xff, 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, (v>>16)&0xff, 10)
	return dst, nil
}
func (IP) Accepts(col Column) bool { return textual(col) }
func (IP) Space(Column) float64    { return 1 << 24 }
func (IP) Identifying() bool       { return true }

// Date moves a date (of birth, typically) by up to 180 days either way and
// keeps its layout, so ages keep their distribution.
type Date struct{}

func (Date) Name() string { return "date" }
func (Date) Apply(dst, orig []byte, r *Rand, _ Column) ([]byte, error) {
	if len(orig) < 10 {
		return dst, fmt.Errorf("date: %d characters, not a YYYY-MM-DD date", len(orig))
	}
	y, m, d, ok := parseDate(orig[:10])
	if !ok {
		return dst, fmt.Errorf("date: not a YYYY-MM-DD date")
	}
	shift := r.IntN(361) - 180
	if shift == 0 {
		shift = 1
	}
	t := time.Date(y, time.Month(m), d+shift, 0, 0, 0, 0, time.UTC)
	y, m, d = t.Year(), int(t.Month()), t.Day()
	dst = append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
	return append(dst, orig[10:]...), nil
}

// parseDate reads YYYY-MM-DD and checks the day exists.
func parseDate(b []byte) (y, m, d int, ok bool) {
	for i, c := range b {
		if i == 4 || i == 7 {
			if c != '-' {
				return 0, 0, 0, false
			}
			continue
		}
		if c < '0' || c > '9' {
			return 0, 0, 0, false
		}
	}
	y = int(b[0]-'0')*1000 + int(b[1]-'0')*100 + int(b[2]-'0')*10 + int(b[3]-'0')
	m = int(b[5]-'0')*10 + int(b[6]-'0')
	d = int(b[8]-'0')*10 + int(b[9]-'0')
	if m < 1 || m > 12 || d < 1 {
		return 0, 0, 0, false
	}
	if t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC); t.Day() != d { // 02-30 normalises to 03-02
		return 0, 0, 0, false
	}
	return y, m, d, true
}

func (Date) Accepts(col Column) bool {
	c := ClassOf(col.DataType)
	return (c == Temporal && col.DataType != "time") || c == Text
}
func (Date) Space(Column) float64 { return 360 * 100 }
func (Date) Identifying() bool    { return false }

// FreeText writes lorem-ipsum sentences about as long as the original.
type FreeText struct{}

func (FreeText) Name() string { return "text" }
func (FreeText) Apply(dst, orig []byte, r *Rand, col Column) ([]byte, error) {
	start := len(dst)
	want := len(orig)
	if want < 8 {
		want = 8
	}
	if col.Length > 0 && int64(want) > col.Length {
		want = int(col.Length)
	}
	sentence := true
	for len(dst)-start < want {
		if len(dst) > start {
			dst = append(dst, ' ')
		}
		w := pick(r, loremWords)
		if sentence && len(w) > 0 {
			dst = append(dst, upper(w[0]))
			dst = append(dst, w[1:]...)
		} else {
			dst = append(dst, w...)
		}
		sentence = r.IntN(8) == 0
		if sentence {
			dst = append(dst, '.')
		}
	}
	dst = truncate(dst, start, col)
	if n := len(dst); n > start && dst[n-1] != '.' && fits(n-start+1, col) {
		dst = append(dst, '.')
	}
	return dst, nil
}
func (FreeText) Accepts(col Column) bool { return textual(col) }
func (FreeText) Space(col Column) float64 {
	return math.Pow(float64(len(loremWords)), float64(max(col.Length/8, 1)))
}
func (FreeText) Identifying() bool { return false }

// Secret replaces a token, key or password hash with random characters of the
// same classes (digits, lower, upper; others kept), or random bytes for
// binary columns.
type Secret struct{}

func (Secret) Name() string { return "secret" }
func (Secret) Apply(dst, orig []byte, r *Rand, col Column) ([]byte, error) {
	if ClassOf(col.DataType) == Binary {
		for range orig {
			dst = append(dst, byte(r.IntN(256)))
		}
		return dst, nil
	}
	return pattern(dst, orig, r, 0), nil
}
func (Secret) Accepts(col Column) bool {
	c := ClassOf(col.DataType)
	return c == Text || c == Binary
}
func (Secret) Space(col Column) float64 { return patternSpace(col) }
func (Secret) Identifying() bool        { return true }

// UUID writes a random version-4 UUID in the original's case and layout.
type UUID struct{}

func (UUID) Name() string { return "uuid" }
func (UUID) Apply(dst, orig []byte, r *Rand, _ Column) ([]byte, error) {
	var b [16]byte
	a, c := r.Uint64(), r.Uint64()
	for i := 0; i < 8; i++ {
		b[i], b[8+i] = byte(a>>(8*i)), byte(c>>(8*i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	hyphens := len(orig) == 0 || containsByte(orig, '-')
	digits := "0123456789abcdef"
	for _, x := range orig {
		if x >= 'A' && x <= 'F' {
			digits = "0123456789ABCDEF"
			break
		}
	}
	for i, x := range b {
		if hyphens && (i == 4 || i == 6 || i == 8 || i == 10) {
			dst = append(dst, '-')
		}
		dst = append(dst, digits[x>>4], digits[x&0x0f])
	}
	return dst, nil
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}
func (UUID) Accepts(col Column) bool { return textual(col) }
func (UUID) Space(Column) float64    { return math.Pow(2, 122) }
func (UUID) Identifying() bool       { return true }
