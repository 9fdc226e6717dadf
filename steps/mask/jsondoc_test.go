package mask

import (
	"encoding/json/jsontext"
	"strings"
	"testing"
)

func TestRewriteJSON(t *testing.T) {
	doc := `{"contact": {"email": "a@b.org", "phones": ["+33 1", "+33 2"], "odd key": 5}, "tags": [["x"]], "n": 1.50, "ok": true, "nil": null}`
	var seen []string
	out, err := rewriteJSON(nil, []byte(doc), func(l leaf) (jsontext.Value, error) {
		seen = append(seen, l.Path+"="+l.Name+"="+string(leafText(l)))
		if l.Name == "email" {
			return jsontext.Value(`"x@example.com"`), nil
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"$.contact.email=email=a@b.org", "$.contact.phones[*]=phones=+33 1", "$.contact.phones[*]=phones=+33 2",
		`$.contact["odd key"]=odd key=5`, "$.tags[*][*]=tags=x", "$.n=n=1.50", "$.ok=ok=true", "$.nil=nil=null",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("leaves:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
	wantOut := `{"contact":{"email":"x@example.com","phones":["+33 1","+33 2"],"odd key":5},"tags":[["x"]],"n":1.50,"ok":true,"nil":null}`
	if string(out) != wantOut {
		t.Errorf("rewriteJSON = %s, want %s", out, wantOut)
	}
	if _, err := rewriteJSON(nil, []byte(`{"a": `), func(leaf) (jsontext.Value, error) { return nil, nil }); err == nil {
		t.Errorf("rewriteJSON(truncated) = nil error")
	}
}
