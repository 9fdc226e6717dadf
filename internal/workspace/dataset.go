package workspace

// DatasetFile is what the test-data architect (the mask step) writes.
const DatasetFile = "dataset.json"

// Dataset is dataset.json: the preprod dataset one mask run produced. Tables
// and Verified are the fixed core; nothing in it is a secret or an original
// value (the key appears only as KeyID, a hash of its hash).
type Dataset struct {
	// Mode is copy (every table whole), subset (rows chosen by rules) or
	// synthetic (rows generated from the schema, no source).
	Mode string `json:"mode"`
	// Source is the source schema (empty for synthetic data); Target the
	// schema the dataset was swapped into.
	Source string `json:"source,omitempty"`
	Target string `json:"target"`
	// Server says which kind of server held the target: mariadb, mysql or
	// embedded.
	Server string `json:"server"`
	// Load is how rows reached the staging tables: load-data (LOAD DATA
	// LOCAL INFILE from a stream) or insert (multi-row INSERT).
	Load string `json:"load"`
	// Swap is how the staging tables replaced the target: rename (one RENAME
	// TABLE of every table across schemas) or rename-in-schema (see notes).
	Swap string `json:"swap"`
	// KeyID names the masking key without revealing it: the first 12 hex
	// digits of SHA-256(SHA-256(key)).
	KeyID       string `json:"keyId"`
	RulesDigest string `json:"rulesDigest"`
	// TTL is how long the target lives before `mask --gc` may drop it.
	TTL    string         `json:"ttl,omitempty"`
	Tables []DatasetTable `json:"tables"`
	// Skipped lists what the source has that the dataset leaves out (views),
	// with the reason.
	Skipped []Skipped `json:"skipped,omitempty"`
	// Suspects are kept columns that look sensitive by name or content.
	Suspects     []Suspect    `json:"suspects,omitempty"`
	Verification Verification `json:"verification"`
	Verified     bool         `json:"verified"`
	Rules        []Fired      `json:"rules"`
	Notes        []string     `json:"notes,omitempty"`
}

// DatasetTable is one table of the dataset.
type DatasetTable struct {
	Name       string          `json:"name"`
	SourceRows int64           `json:"sourceRows"`
	TargetRows int64           `json:"targetRows"`
	Columns    []DatasetColumn `json:"columns"`
	// Subset says why the table holds only some rows: a root chosen by a
	// rule, or rows pulled in by foreign keys.
	Subset *TableSubset `json:"subset,omitempty"`
	// Digest is the SHA-256 of the rows as loaded, in primary-key order:
	// equal digests mean equal data.
	Digest string `json:"digest"`
}

// DatasetColumn says what happened to one column and which rule decided it.
type DatasetColumn struct {
	Name        string `json:"name"`
	Transformer string `json:"transformer"`
	// Rule is the id of the rule that chose the transformer, or
	// "override:<file>:<line>", "fk:<constraint>" (the column follows its
	// parent), "generated" (the server computes it) or "default".
	Rule   string        `json:"rule"`
	Unique bool          `json:"unique,omitempty"`
	Paths  []DatasetPath `json:"paths,omitempty"`
}

// DatasetPath is a JSON path inside a JSON column and its transformer.
type DatasetPath struct {
	Path        string `json:"path"`
	Transformer string `json:"transformer"`
	Rule        string `json:"rule"`
}

// TableSubset describes how a subset table's rows were chosen.
type TableSubset struct {
	Root    bool    `json:"root"`
	Rule    string  `json:"rule,omitempty"`
	Where   string  `json:"where,omitempty"`
	Limit   int64   `json:"limit,omitempty"`
	Percent float64 `json:"percent,omitempty"`
}

// Skipped is an object of the source the dataset leaves out.
type Skipped struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Suspect is a kept column that looks sensitive.
type Suspect struct {
	Table  string `json:"table"`
	Column string `json:"column"`
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
}

// Verification holds the checks run on the staging tables before the swap.
type Verification struct {
	RowCounts   bool      `json:"rowCounts"`
	ForeignKeys []FKCheck `json:"foreignKeys"`
	Leaks       LeakCheck `json:"leaks"`
	Problems    []string  `json:"problems,omitempty"`
}

// FKCheck is the integrity query of one foreign key: child rows whose parent
// is missing.
type FKCheck struct {
	Constraint string `json:"constraint"`
	Table      string `json:"table"`
	Orphans    int64  `json:"orphans"`
}

// LeakCheck compares hashes of the original sensitive values with hashes of
// every value written unchanged (kept columns, kept JSON leaves, their words)
// and of every transformed value: Found must be zero.
type LeakCheck struct {
	Originals int64 `json:"originals"`
	Checked   int64 `json:"checked"`
	Found     int64 `json:"found"`
	// Columns names where leaked values were found (never the values).
	Columns []string `json:"columns,omitempty"`
}

// Dataset modes.
const (
	ModeCopy      = "copy"
	ModeSubset    = "subset"
	ModeSynthetic = "synthetic"
)

// MaskColumn is what mask rules see of one column (the CEL variable
// `column`), or of one value path inside a JSON column (Path set). Field
// names are the CEL names.
type MaskColumn struct {
	Table string `json:"table"`
	Name  string `json:"name"`
	// Path is the JSON path of a value nested in a JSON column, e.g.
	// "$.contact.email" or "$.phones[*]"; empty for the column itself.
	Path string `json:"path"`
	// Type is the full column type (varchar(255), int(11), json); DataType
	// its base type (varchar, int, json). A JSON leaf has DataType "string",
	// "number" or "bool".
	Type     string `json:"type"`
	DataType string `json:"dataType"`
	// Kind groups data types: text, number, temporal, binary, json, enum or
	// unsupported.
	Kind string `json:"kind"`
	// Length is the maximum length in characters of a textual column, 0 for
	// other types.
	Length     int64  `json:"length"`
	Nullable   bool   `json:"nullable"`
	Key        string `json:"key"` // PRI, UNI, MUL or ""
	PrimaryKey bool   `json:"primaryKey"`
	Unique     bool   `json:"unique"`
	ForeignKey bool   `json:"foreignKey"`
	Generated  bool   `json:"generated"`
	Comment    string `json:"comment"`
	// Sample holds statistics over a sample of the column's values.
	Sample MaskSample `json:"sample"`
}

// MaskSample is measured on up to a fixed number of rows of a column: how
// many values were seen and which share of the non-null ones looks like each
// kind of personal data.
type MaskSample struct {
	Rows     int64   `json:"rows"`
	Values   int64   `json:"values"` // non-null, non-empty
	Distinct int64   `json:"distinct"`
	AvgLen   float64 `json:"avgLen"`
	// Ratios in [0, 1] of the values that look like …
	EmailRatio      float64 `json:"emailRatio"`
	PhoneRatio      float64 `json:"phoneRatio"`
	NameRatio       float64 `json:"nameRatio"` // a person's name (first/last names from a dictionary)
	CardRatio       float64 `json:"cardRatio"` // a Luhn-valid card number
	IBANRatio       float64 `json:"ibanRatio"` // an IBAN with valid check digits
	NationalIDRatio float64 `json:"nationalIdRatio"`
	AddressRatio    float64 `json:"addressRatio"` // a street address (number + street word)
	IPRatio         float64 `json:"ipRatio"`
	DateRatio       float64 `json:"dateRatio"`
	SecretRatio     float64 `json:"secretRatio"` // long, high-entropy tokens
	// PIIInTextRatio is the share of values that contain an email address or
	// a phone number among other words (free text with contact data).
	PIIInTextRatio float64 `json:"piiInTextRatio"`
	WordsAvg       float64 `json:"wordsAvg"` // words per value (free text has many)
}

// MaskTable is what table-scope mask rules see (the CEL variable `table`).
type MaskTable struct {
	Name         string   `json:"name"`
	Rows         int64    `json:"rows"`
	Columns      []string `json:"columns"`
	PrimaryKey   []string `json:"primaryKey"`
	References   []string `json:"references"`
	ReferencedBy []string `json:"referencedBy"`
	// Synthetic is set when there is no source and rows are generated.
	Synthetic bool `json:"synthetic"`
}
