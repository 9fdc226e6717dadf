package dbschema

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"

	"github.com/rehearsal-dev/rehearsal/fixtures/shop"
	"github.com/rehearsal-dev/rehearsal/internal/embeddedsql"
	"github.com/rehearsal-dev/rehearsal/internal/mariadbtest"
)

// TestInspectShop reads fixtures/shop on the embedded server and on MariaDB
// and finds the same schema on both.
func TestInspectShop(t *testing.T) {
	ctx := context.Background()
	dsns := map[string]string{}
	e, err := embeddedsql.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	dsns["embedded"] = e.DSN("")
	m, err := mariadbtest.Start(ctx)
	switch {
	case errors.Is(err, mariadbtest.ErrUnavailable):
		t.Logf("MariaDB part skipped: %v", err)
	case err != nil:
		t.Fatal(err)
	default:
		defer m.Close()
		dsns["mariadb"] = m.DSN("")
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			if err := embeddedsql.LoadSQL(ctx, dsn, "shop", shop.FS); err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("mysql", dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			s, err := Inspect(ctx, db, "shop")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tb := range s.Order() {
				names = append(names, tb.Name)
			}
			if want := []string{"customers", "addresses", "orders", "order_items", "payments"}; !slices.Equal(names, want) {
				t.Errorf("Order() = %v, want parents first: %v", names, want)
			}
			if !slices.Equal(s.Views, []string{"customer_totals"}) {
				t.Errorf("Views = %v", s.Views)
			}
			c := s.Table("customers")
			if !c.Unique("email") || c.Unique("phone") || !slices.Equal(c.RowKey(), []string{"id"}) {
				t.Errorf("customers: email unique %v, phone unique %v, key %v", c.Unique("email"), c.Unique("phone"), c.RowKey())
			}
			if col := c.Column("profile"); col == nil || col.DataType != "json" {
				t.Errorf("customers.profile = %+v, want a json column", col)
			}
			if col := c.Column("email"); col.Length != 255 || col.Nullable || col.DataType != "varchar" {
				t.Errorf("customers.email = %+v", col)
			}
			if col := s.Table("order_items").Column("line_total"); !col.Generated {
				t.Errorf("order_items.line_total is not marked generated")
			}
			fk := s.Table("orders").ForeignKeys[0]
			if fk.Name != "fk_orders_address" || !slices.Equal(fk.Columns, []string{"customer_id", "shipping_kind"}) || fk.RefTable != "addresses" || !slices.Equal(fk.RefColumns, []string{"customer_id", "kind"}) {
				t.Errorf("orders composite foreign key = %+v", fk)
			}
			self := c.ForeignKeys[0]
			if self.RefTable != "customers" || self.Columns[0] != "referred_by" {
				t.Errorf("customers self-reference = %+v", self)
			}
			if !slices.Equal(s.Table("addresses").PrimaryKey, []string{"customer_id", "kind"}) {
				t.Errorf("addresses key = %v", s.Table("addresses").PrimaryKey)
			}
		})
	}
}
