package canonical

import "testing"

func TestTransform(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"whitespace and order", "{ \"b\" : [1, 2 ],\n \"a\": {\"y\": true, \"x\": null} }", `{"a":{"x":null,"y":true},"b":[1,2]}`},
		// RFC 8785 section 3.2.3: sorting by UTF-16 code units, so U+1F600
		// (a surrogate pair, D83D DE00) sorts before U+FB33 and after "\r".
		{"utf-16 order", `{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}`,
			"{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"},
		{"string escapes", `["\u0041\u000a\u001f\"\\\/\u00e9\u2028"]`, "[\"A\\n\\u001f\\\"\\\\/é\u2028\"]"},
		{"numbers", `[1E30, 4.50, 2e-3, 0.000001, 1e-7, 333333333.33333329, -0, 1e21, 1e20, 100]`,
			`[1e+30,4.5,0.002,0.000001,1e-7,333333333.3333333,0,1e+21,100000000000000000000,100]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Transform([]byte(tt.in))
			if err != nil {
				t.Fatalf("Transform(%s) = %v", tt.in, err)
			}
			if string(got) != tt.want {
				t.Errorf("Transform(%s) =\n%s\nwant\n%s", tt.in, got, tt.want)
			}
		})
	}
}

func TestTransformRefuses(t *testing.T) {
	for _, in := range []string{`{"a":1,"a":2}`, `{"a":1} {}`, `{"a":`, `[1e400]`} {
		if got, err := Transform([]byte(in)); err == nil {
			t.Errorf("Transform(%s) = %s, want an error", in, got)
		}
	}
}

func TestMarshalIgnoresFormattingNotContent(t *testing.T) {
	a, _ := Transform([]byte(`{"x": [1, 2], "y": "z"}`))
	b, _ := Marshal(map[string]any{"y": "z", "x": []int{1, 2}})
	if string(a) != string(b) {
		t.Errorf("Marshal = %s, Transform = %s, want equal", b, a)
	}
	c, _ := Marshal(map[string]any{"y": "z", "x": []int{2, 1}})
	if string(a) == string(c) {
		t.Errorf("Marshal gave %s for reordered array content, want a difference", c)
	}
}
