package threads

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// Search limits: a search looks through a caller's SearchThreads most
// recent threads (retention bounds what each holds) and returns at most
// SearchHits messages.
const (
	SearchThreads  = 500
	SearchHits     = 100
	MinQueryLen    = 2
	MaxQueryLen    = 200
	maxSearchTerms = 8
)

// Query is a search, normalised: its terms, each of which a text must
// contain (case, accents and runs of space ignored).
type Query struct{ terms []string }

// ParseQuery normalises q. paging.ErrInvalid for a query that is too
// short or too long (the error does not repeat it: it may be PHI).
func ParseQuery(q string) (Query, error) {
	if !utf8.ValidString(q) || len(q) > MaxQueryLen {
		return Query{}, fmt.Errorf("%w search: at most %d bytes of text", paging.ErrInvalid, MaxQueryLen)
	}
	terms := strings.Fields(fold(q))
	if len(terms) > maxSearchTerms {
		terms = terms[:maxSearchTerms]
	}
	n := 0
	for _, t := range terms {
		n += utf8.RuneCountInString(t)
	}
	if n < MinQueryLen {
		return Query{}, fmt.Errorf("%w search: at least %d letters", paging.ErrInvalid, MinQueryLen)
	}
	return Query{terms: terms}, nil
}

// Match reports whether text holds every term of q.
func (q Query) Match(text string) bool {
	if len(q.terms) == 0 {
		return false
	}
	f := fold(text)
	for _, t := range q.terms {
		if !strings.Contains(f, t) {
			return false
		}
	}
	return true
}

// fold lower-cases s and drops its combining marks (é matches e).
func fold(s string) string {
	d := norm.NFD.String(s)
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// Search looks for q in the caller's own threads: their most recent
// SearchThreads threads, subjects, message texts, pages and attachment
// names, opened in memory (storage.SearchThreads). Only threads the
// caller is a member of are searched; the access hook plays no part.
// The search is audited without the query.
func (s *Service) Search(ctx context.Context, as Caller, q Query) ([]storage.SearchHit, storage.SearchReport, error) {
	if err := checkPerson(as.Person); err != nil {
		return nil, storage.SearchReport{}, err
	}
	hits, rep, err := s.st.SearchThreads(ctx, as.Person, q.Match, SearchThreads, SearchHits, as.audit())
	if err != nil {
		return nil, rep, fmt.Errorf("search: %w", err)
	}
	return hits, rep, nil
}
