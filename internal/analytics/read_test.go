package analytics

import (
	"strings"
	"testing"
)

func TestReadTransactions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		format  Format
		in      string
		want    string // customers as id:day=amount,...; lines
		wantErr string
	}{
		{
			name: "cdnow, CRLF", format: FormatCDNOW,
			in:   " 00004 0001 19970101  2   29.33\r\n 00004 0001 19970118  2   29.73\r\n 00021 0002 19970101  3   63.34\r\n",
			want: "00004:1997-01-01=29.33,1997-01-18=29.73 00021:1997-01-01=63.34",
		},
		{
			name: "cdnow, blank lines skipped", format: FormatCDNOW,
			in:   "\n 00004 0001 19970101  2   29.33\n\n",
			want: "00004:1997-01-01=29.33",
		},
		{name: "cdnow, four fields", format: FormatCDNOW, in: " 00004 0001 19970101  2   29.33\n 00004 0001 19970118  29.73\n", wantErr: "line 2: 4 fields, want 5"},
		{name: "cdnow, bad date", format: FormatCDNOW, in: " 00004 0001 1997-01-01  2   29.33\n", wantErr: `line 1: date "1997-01-01" is not YYYYMMDD`},
		{name: "cdnow, bad quantity", format: FormatCDNOW, in: " 00004 0001 19970101  two   29.33\n", wantErr: `line 1: quantity "two"`},
		{name: "cdnow, bad amount", format: FormatCDNOW, in: " 00004 0001 19970101  2   29,33\n", wantErr: `line 1: amount "29,33" is not a decimal number`},
		{name: "cdnow, negative amount", format: FormatCDNOW, in: " 00004 0001 19970101  2   -1\n", wantErr: `line 1: amount "-1" is negative`},
		{
			name: "csv with header", format: FormatCSV,
			in:   "customer_id,date,amount\nm1,2024-01-05,12.50\nm2,2024-01-06,3\nm1,2024-02-01,7.25\n",
			want: "m1:2024-01-05=12.5,2024-02-01=7.25 m2:2024-01-06=3",
		},
		{
			name: "csv without header, quoted id", format: FormatCSV,
			in:   "\"m,1\",2024-01-05,12.50\n",
			want: "m,1:2024-01-05=12.5",
		},
		{name: "csv, bad date", format: FormatCSV, in: "customer_id,date,amount\nm1,2024-01-05,1\nm1,05/01/2024,1\n", wantErr: `line 3: date: "05/01/2024" is not a date YYYY-MM-DD`},
		{name: "csv, two fields", format: FormatCSV, in: "m1,2024-01-05,1\nm1,2024-01-06\n", wantErr: "line 2: wrong number of fields"},
		{name: "csv, bad amount", format: FormatCSV, in: "m1,2024-01-05,ten\n", wantErr: `line 1: amount "ten" is not a decimal number`},
		{name: "csv, empty id", format: FormatCSV, in: "m1,2024-01-05,1\n,2024-01-05,1\n", wantErr: "line 2: customer_id is empty"},
		{name: "csv, header only", format: FormatCSV, in: "customer_id,date,amount\n", wantErr: "no transactions"},
		{name: "unknown format", format: "xml", in: "x", wantErr: `format "xml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := ReadTransactions(strings.NewReader(tc.in), tc.format)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, c := range cs {
				var txs []string
				for _, x := range c.Transactions {
					txs = append(txs, x.Day.String()+"="+x.Amount.String())
				}
				parts = append(parts, c.ID+":"+strings.Join(txs, ","))
			}
			if got := strings.Join(parts, " "); got != tc.want {
				t.Errorf("customers = %s, want %s", got, tc.want)
			}
		})
	}
}
