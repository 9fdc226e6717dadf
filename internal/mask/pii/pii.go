// Package pii measures how much a column's sampled values look like personal
// data: the share of values that look like email addresses, phone numbers,
// person names, card numbers, IBANs, national identity numbers, street
// addresses, IP addresses, dates and secrets. It decides nothing: mask rules
// read the ratios (column.sample.*) and decide.
package pii

import (
	"bytes"
	"math"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/brianvoe/gofakeit/v7/data"

	"github.com/rehearsal-dev/rehearsal/internal/mask/transform"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

var (
	emailRe      = regexp.MustCompile(`^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$`)
	emailInText  = regexp.MustCompile(`[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`)
	phoneShape   = regexp.MustCompile(`^\+?\(?[0-9][0-9 ().-]{5,20}[0-9]$`)
	phoneInText  = regexp.MustCompile(`(^|[^0-9])\+?[0-9][0-9 .-]{7,16}[0-9]([^0-9]|$)`)
	nationalIDRe = []*regexp.Regexp{
		regexp.MustCompile(`^\d{3}-\d{2}-\d{4}$`),                                         // US SSN
		regexp.MustCompile(`^[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]$`),          // UK NINO
		regexp.MustCompile(`^[12] ?\d{2} ?\d{2} ?(\d{2}|2[AB]) ?\d{3} ?\d{3}( ?\d{2})?$`), // FR NIR
		regexp.MustCompile(`^\d{8}-?[A-HJ-NP-TV-Z]$`),                                     // ES DNI
		regexp.MustCompile(`^[XYZ]\d{7}[A-Z]$`),                                           // ES NIE
		regexp.MustCompile(`^\d{6}[-+A]\d{3}[0-9A-Y]$`),                                   // FI HETU
		regexp.MustCompile(`^\d{3}\.\d{3}\.\d{3}-\d{2}$`),                                 // BR CPF
	}
	streetWords  = regexp.MustCompile(`(?i)\b(street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|square|sq|terrace|crescent|close|highway|rue|chemin|allée|strasse|straße|weg|platz|via|viale|calle|avenida|plaza|laan|straat|gatan|vej)\b`)
	streetSuffix = regexp.MustCompile(`(?i)\p{L}{3,}(straße|strasse|gasse|allee|platz|weg|straat|gatan|vej)\b`)
	leadingNum   = regexp.MustCompile(`(^|\s)\d{1,5}[A-Za-z]?,?(\s|$)`)
	dateRe       = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4}|\d{2}\.\d{2}\.\d{4})([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$`)
)

// nameWords holds lower-case first and last names.
var nameWords = func() map[string]bool {
	m := map[string]bool{}
	for _, list := range [][]string{data.Person["first"], data.Person["last"]} {
		for _, n := range list {
			m[strings.ToLower(n)] = true
		}
	}
	return m
}()

// Measure computes the sample statistics of a column from its sampled values:
// rows is how many rows were sampled, values the non-null ones.
func Measure(rows int64, values [][]byte) workspace.MaskSample {
	s := workspace.MaskSample{Rows: rows}
	distinct := map[string]struct{}{}
	var total, words float64
	var n [12]int
	for _, v := range values {
		v = bytes.TrimSpace(v)
		if len(v) == 0 {
			continue
		}
		s.Values++
		if len(distinct) < 100000 {
			distinct[string(v)] = struct{}{}
		}
		total += float64(len([]rune(string(v))))
		words += float64(len(bytes.Fields(v)))
		switch {
		case IsEmail(v):
			n[0]++
		case IsCard(v):
			n[1]++
		case transform.IBANValid(v):
			n[2]++
		case IsNationalID(v):
			n[3]++
		case IsPhone(v):
			n[4]++
		case IsIP(v):
			n[5]++
		case IsDate(v):
			n[6]++
		case IsAddress(v):
			n[7]++
		case IsName(v):
			n[8]++
		case IsSecret(v):
			n[9]++
		}
		if ContainsContact(v) {
			n[10]++
		}
	}
	s.Distinct = int64(len(distinct))
	if s.Values == 0 {
		return s
	}
	d := float64(s.Values)
	r := func(i int) float64 { return math.Round(float64(n[i])/d*1000) / 1000 }
	s.AvgLen = math.Round(total/d*10) / 10
	s.WordsAvg = math.Round(words/d*10) / 10
	s.EmailRatio, s.CardRatio, s.IBANRatio, s.NationalIDRatio = r(0), r(1), r(2), r(3)
	s.PhoneRatio, s.IPRatio, s.DateRatio, s.AddressRatio = r(4), r(5), r(6), r(7)
	s.NameRatio, s.SecretRatio, s.PIIInTextRatio = r(8), r(9), r(10)
	return s
}

// IsEmail reports whether v is an email address.
func IsEmail(v []byte) bool { return len(v) <= 254 && emailRe.Match(v) }

// IsPhone reports whether v is a phone number: 7 to 15 digits with the usual
// separators, optionally after a +.
func IsPhone(v []byte) bool {
	if !phoneShape.Match(v) || IsDate(v) {
		return false
	}
	d := digits(v)
	return d >= 7 && d <= 15
}

// IsCard reports whether v is a card number: 13 to 19 digits, optionally
// grouped by spaces or dashes, passing the Luhn check.
func IsCard(v []byte) bool {
	d := 0
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9':
			d++
		case c == ' ' || c == '-':
		default:
			return false
		}
	}
	return d >= 13 && d <= 19 && transform.LuhnValid(v)
}

// IsNationalID reports whether v has the shape of a common national identity
// number (US SSN, UK NINO, French NIR, Spanish DNI/NIE, Finnish HETU,
// Brazilian CPF).
func IsNationalID(v []byte) bool {
	for _, re := range nationalIDRe {
		if re.Match(v) {
			return true
		}
	}
	return false
}

// IsIP reports whether v is an IPv4 or IPv6 address.
func IsIP(v []byte) bool {
	if len(v) < 7 || len(v) > 45 {
		return false
	}
	_, err := netip.ParseAddr(string(v))
	return err == nil
}

// IsDate reports whether v is a calendar date (optionally with a time).
func IsDate(v []byte) bool {
	if !dateRe.Match(v) {
		return false
	}
	if v[4] == '-' {
		_, err := time.Parse("2006-01-02", string(v[:10]))
		return err == nil
	}
	return true
}

// IsAddress reports whether v looks like a street address: a house number
// and a street-type word.
func IsAddress(v []byte) bool {
	return len(v) >= 8 && leadingNum.Match(v) && (streetWords.Match(v) || streetSuffix.Match(v))
}

// IsName reports whether v looks like a person's name: one to four
// alphabetic words, at least one of them a known first or last name.
func IsName(v []byte) bool {
	f := bytes.Fields(v)
	if len(f) == 0 || len(f) > 4 {
		return false
	}
	known := false
	for _, w := range f {
		for _, c := range w {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '\'' || c == '.' || c >= 0x80) {
				return false
			}
		}
		for _, part := range strings.FieldsFunc(strings.ToLower(string(w)), func(r rune) bool { return r == '-' || r == '\'' || r == '.' }) {
			known = known || nameWords[part]
		}
	}
	return known
}

// IsSecret reports whether v looks like a key, token or password hash: at
// least 20 characters, no spaces, letters and digits, high entropy.
func IsSecret(v []byte) bool {
	if len(v) < 20 || bytes.ContainsAny(v, " \t\n") {
		return false
	}
	if bytes.HasPrefix(v, []byte("$2a$")) || bytes.HasPrefix(v, []byte("$2b$")) || bytes.HasPrefix(v, []byte("$argon2")) {
		return true
	}
	var letters, numbers bool
	var freq [256]int
	for _, c := range v {
		freq[c]++
		letters = letters || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		numbers = numbers || (c >= '0' && c <= '9')
	}
	if !letters || !numbers {
		return false
	}
	h := 0.0
	for _, f := range freq {
		if f > 0 {
			p := float64(f) / float64(len(v))
			h -= p * math.Log2(p)
		}
	}
	return h >= 3.5
}

// ContainsContact reports whether free text v contains an email address or a
// phone number among other words.
func ContainsContact(v []byte) bool {
	if len(bytes.Fields(v)) < 2 {
		return false
	}
	return emailInText.Match(v) || phoneInText.Match(v)
}

func digits(v []byte) int {
	d := 0
	for _, c := range v {
		if c >= '0' && c <= '9' {
			d++
		}
	}
	return d
}
