package analytics

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Format is the layout of a transaction file.
type Format string

// The transaction file layouts ReadTransactions reads.
const (
	// FormatCDNOW is the CDNOW sample's layout: whitespace-separated
	// customer id, sample id, date YYYYMMDD, quantity, amount.
	FormatCDNOW Format = "cdnow"
	// FormatCSV is customer_id,date,amount with the date YYYY-MM-DD and
	// an optional header line naming those three columns.
	FormatCSV Format = "csv"
)

// ParseFormat reads "cdnow" or "csv".
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatCDNOW, FormatCSV:
		return f, nil
	}
	return "", fmt.Errorf("format %q is not cdnow or csv", s)
}

// Customer is one customer's transactions as read from a file.
type Customer struct {
	ID           string
	Transactions []Transaction
}

// ReadTransactions reads a transaction file, grouped by customer in the
// order each customer first appears. Every line must be valid: an error
// names the line and the field, because a fit on silently skipped lines
// would describe other customers than the file's.
func ReadTransactions(r io.Reader, f Format) ([]Customer, error) {
	var c collector
	var err error
	switch f {
	case FormatCDNOW:
		err = readCDNOW(r, &c)
	case FormatCSV:
		err = readCSV(r, &c)
	default:
		err = fmt.Errorf("format %q is not cdnow or csv", f)
	}
	if err != nil {
		return nil, err
	}
	if len(c.customers) == 0 {
		return nil, errors.New("no transactions in the file")
	}
	return c.customers, nil
}

type collector struct {
	customers []Customer
	index     map[string]int
}

func (c *collector) add(id string, t Transaction) {
	if c.index == nil {
		c.index = map[string]int{}
	}
	i, ok := c.index[id]
	if !ok {
		i = len(c.customers)
		c.index[id] = i
		c.customers = append(c.customers, Customer{ID: id})
	}
	c.customers[i].Transactions = append(c.customers[i].Transactions, t)
}

func readCDNOW(r io.Reader, c *collector) error {
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 5 {
			return fmt.Errorf("line %d: %d fields, want 5 (customer id, sample id, YYYYMMDD, quantity, amount)", line, len(fields))
		}
		t, err := time.Parse("20060102", fields[2])
		if err != nil {
			return fmt.Errorf("line %d: date %q is not YYYYMMDD", line, fields[2])
		}
		if q, err := strconv.Atoi(fields[3]); err != nil || q < 0 {
			return fmt.Errorf("line %d: quantity %q is not a whole number 0 or more", line, fields[3])
		}
		amount, err := parseAmount(fields[4])
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		c.add(fields[0], Transaction{Day: DayOf(t), Amount: amount})
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read cdnow file: %w", err)
	}
	return nil
}

func readCSV(r io.Reader, c *collector) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 3
	cr.TrimLeadingSpace = true
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fmt.Errorf("line %d: %v (want customer_id,date,amount)", pe.Line, pe.Err)
			}
			return fmt.Errorf("read csv file: %w", err)
		}
		if first && rec[0] == "customer_id" && rec[1] == "date" && rec[2] == "amount" {
			continue
		}
		if rec[0] == "" {
			return fmt.Errorf("line %d: customer_id is empty", line)
		}
		day, err := ParseDay(rec[1])
		if err != nil {
			return fmt.Errorf("line %d: date: %w", line, err)
		}
		amount, err := parseAmount(rec[2])
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		c.add(rec[0], Transaction{Day: day, Amount: amount})
	}
}

// parseAmount reads a decimal amount of 0 or more; a file's refunds are
// netted into its orders before they get here.
func parseAmount(s string) (decimal.Decimal, error) {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("amount %q is not a decimal number", s)
	}
	if d.IsNegative() {
		return decimal.Decimal{}, fmt.Errorf("amount %q is negative", s)
	}
	return d, nil
}
