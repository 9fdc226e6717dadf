package pii

import (
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

func TestDetectors(t *testing.T) {
	tests := []struct {
		name string
		fn   func([]byte) bool
		yes  []string
		no   []string
	}{
		{"IsEmail", IsEmail, []string{"jane.doe@gmail.com", "o'hara+tag@mail.example.co.uk"}, []string{"jane.doe", "a@b", "call jane@x.com"}},
		{"IsPhone", IsPhone, []string{"+33 6 12 34 56 78", "(415) 555-0123", "0612345678"}, []string{"12345", "2024-01-02", "+1 phone"}},
		{"IsCard", IsCard, []string{"4111 1111 1111 1111", "5500-0000-0000-0004"}, []string{"4111 1111 1111 1112", "1234"}},
		{"IsNationalID", IsNationalID, []string{"123-45-6789", "AB 12 34 56 C", "1 85 03 75 123 456 78", "12345678Z"}, []string{"123456", "hello"}},
		{"IsIP", IsIP, []string{"192.168.1.20", "2a01:e0a::1"}, []string{"999.1.1.1", "1.2.3"}},
		{"IsDate", IsDate, []string{"1985-03-04", "04/03/1985", "1985-03-04 10:00:00"}, []string{"1985-13-40", "yesterday"}},
		{"IsAddress", IsAddress, []string{"12 Baker Street", "221B Baker St", "5 rue de la Paix", "Hauptstraße 7"}, []string{"Baker Street", "12 apples"}},
		{"IsName", IsName, []string{"Jane Doe", "JOHN SMITH", "Mary-Jane O'Neil"}, []string{"Blue Widget 3000", "paid", "x y z w v"}},
		{"IsSecret", IsSecret, []string{"sk_" + "live_4eC39HqLyjWDarjtT1zdp7dc", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}, []string{"aaaaaaaaaaaaaaaaaaaaaaaaa", "this is a sentence with words"}},
		{"ContainsContact", ContainsContact, []string{"call me on +33 6 12 34 56 78 tonight", "write to jane@x.com please"}, []string{"jane@x.com", "order 12 shipped"}},
	}
	for _, tc := range tests {
		for _, v := range tc.yes {
			if !tc.fn([]byte(v)) {
				t.Errorf("%s(%q) = false, want true", tc.name, v)
			}
		}
		for _, v := range tc.no {
			if tc.fn([]byte(v)) {
				t.Errorf("%s(%q) = true, want false", tc.name, v)
			}
		}
	}
}

func TestMeasure(t *testing.T) {
	vals := [][]byte{[]byte("jane@x.com"), []byte("bob@y.org"), []byte("not an email"), []byte("")}
	got := Measure(5, vals)
	want := workspace.MaskSample{Rows: 5, Values: 3, Distinct: 3, AvgLen: 10.3, WordsAvg: 1.7, EmailRatio: 0.667}
	if got != want {
		t.Errorf("Measure = %+v, want %+v", got, want)
	}
}
