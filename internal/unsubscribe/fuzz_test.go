package unsubscribe_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/memberflow/memberflow/internal/testenv/fuzzseed"
	"github.com/memberflow/memberflow/internal/unsubscribe"
)

// fuzzSecret is the secret the seeds' genuine tokens are signed with.
const fuzzSecret = "unsubscribe-test-secret"

// FuzzUnsubscribeToken checks Verify on any token, and Token against
// Verify. A token that verifies must be one Token made for the claims it
// yields (nobody without the secret can make one), and one of the three
// errors otherwise. Claims signed and verified come back unchanged, and a
// signed token with bytes changed (mutation: pairs of position and XOR
// mask) never verifies as another member, group or expiry.
func FuzzUnsubscribeToken(f *testing.F) {
	s, err := unsubscribe.NewSigner([]byte(fuzzSecret))
	if err != nil {
		f.Fatal(err)
	}
	other, err := unsubscribe.NewSigner([]byte("another-secret-entirely"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token, memberID, group string, validFor int64, mutation []byte) {
		c, err := s.Verify(token, now)
		switch {
		case err == nil:
			if c.MemberID == "" || !now.Before(c.Expires) {
				t.Fatalf("Verify(%q) = %+v: no member or already expired", token, c)
			}
			payload, _, _ := strings.Cut(token, ".")
			again, _, _ := strings.Cut(s.Token(c), ".")
			if payload != again {
				t.Fatalf("Verify(%q) accepted a payload Token does not make for %+v", token, c)
			}
			if _, err := other.Verify(token, now); !errors.Is(err, unsubscribe.ErrSignature) {
				t.Fatalf("token %q: another secret's Verify = %v, want ErrSignature", token, err)
			}
		case !errors.Is(err, unsubscribe.ErrMalformed) && !errors.Is(err, unsubscribe.ErrSignature) && !errors.Is(err, unsubscribe.ErrExpired):
			t.Fatalf("Verify(%q) = %v, not one of the three errors", token, err)
		}

		// Expiries within about a century either way of now: the claim
		// carries a time that JSON can encode.
		validFor %= 100 * 365 * 24 * 60 * 60
		want := unsubscribe.Claims{MemberID: memberID, Group: group, Expires: now.Add(time.Duration(validFor) * time.Second)}
		tok := s.Token(want)
		got, err := s.Verify(tok, now)
		switch {
		case memberID == "":
			if !errors.Is(err, unsubscribe.ErrMalformed) {
				t.Fatalf("a token for no member: Verify = %+v, %v", got, err)
			}
			return
		case validFor <= 0:
			if !errors.Is(err, unsubscribe.ErrExpired) {
				t.Fatalf("a token that expired %ds ago: Verify = %+v, %v", -validFor, got, err)
			}
			return
		case !utf8.ValidString(memberID) || !utf8.ValidString(group):
			// JSON carries text: invalid UTF-8 comes back as U+FFFD.
			// Member ids and group names are ASCII everywhere they are
			// made, so only equality of valid text is promised.
			if err != nil {
				t.Fatalf("Verify(Token(%+v)) = %v", want, err)
			}
			return
		case err != nil:
			t.Fatalf("Verify(Token(%+v)) = %v", want, err)
		case got.MemberID != want.MemberID || got.Group != want.Group || !got.Expires.Equal(want.Expires):
			t.Fatalf("Verify(Token(%+v)) = %+v", want, got)
		}
		if _, err := other.Verify(tok, now); !errors.Is(err, unsubscribe.ErrSignature) {
			t.Fatalf("another secret's Verify = %v, want ErrSignature", err)
		}

		b := []byte(tok)
		for i := 0; i+1 < len(mutation); i += 2 {
			b[int(mutation[i])%len(b)] ^= mutation[i+1]
		}
		if string(b) == tok {
			return
		}
		if c, err := s.Verify(string(b), now); err == nil && (c.MemberID != got.MemberID || c.Group != got.Group || !c.Expires.Equal(got.Expires)) {
			t.Fatalf("token changed to %q verifies as %+v, not %+v", b, c, got)
		}
	})
}

// TestFuzzSeeds keeps testdata/fuzz/FuzzUnsubscribeToken equal to the
// tokens unsubscribe_test.go checks; go test ./internal/unsubscribe -run
// TestFuzzSeeds -update-seeds rewrites it.
func TestFuzzSeeds(t *testing.T) {
	s := signer(t, fuzzSecret)
	other := signer(t, "another-secret-entirely")
	hour := int64(time.Hour / time.Second)
	group := s.Token(unsubscribe.Claims{MemberID: "m-1", Group: "activation", Expires: now.Add(time.Hour)})
	all := s.Token(unsubscribe.Claims{MemberID: "m-1", Expires: now.Add(time.Hour)})
	forged := other.Token(unsubscribe.Claims{MemberID: "m-2", Expires: now.Add(time.Hour)})
	p, _, _ := strings.Cut(forged, ".")
	_, sig, _ := strings.Cut(group, ".")

	seeds := []fuzzseed.Seed{
		fuzzseed.New("group", group, "m-1", "activation", hour, []byte{}),
		fuzzseed.New("all-email", all, "m-1", "", hour, []byte{}),
		fuzzseed.New("expired", s.Token(unsubscribe.Claims{MemberID: "m-1", Expires: now}), "m-1", "", int64(0), []byte{}),
		fuzzseed.New("foreign-secret", other.Token(unsubscribe.Claims{MemberID: "m-1", Expires: now.Add(time.Hour)}), "m-1", "", hour, []byte{}),
		fuzzseed.New("swapped-payload", p+"."+sig, "m-2", "", hour, []byte{0, 1}),
		fuzzseed.New("empty", "", "", "", int64(0), []byte{}),
		fuzzseed.New("garbage", "garbage", "m-1", "birthday", hour, []byte{5, 0x20}),
	}
	for _, bad := range []string{"abc", "abc.", ".abc", "!!.!!"} {
		seeds = append(seeds, fuzzseed.New("bad-"+strings.NewReplacer(".", "dot", "!", "bang").Replace(bad), bad, "m-1", "activation", hour, []byte{}))
	}
	fuzzseed.Check(t, "FuzzUnsubscribeToken", seeds)
}
