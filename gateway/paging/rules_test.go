package paging

import "testing"

func TestRaisePriority(t *testing.T) {
	rules := []PriorityRule{
		{StartsWith: "CODE BLUE", Priority: PriorityCritical},
		{Contains: "stat", Priority: PriorityHigh},
	}
	cases := []struct {
		text string
		in   Priority
		want Priority
	}{
		{"CODE BLUE 4W Rm 412", PriorityNormal, PriorityCritical},
		{"  code blue ICU", PriorityNormal, PriorityCritical},
		{"Re: CODE BLUE earlier", PriorityNormal, PriorityNormal},
		{"Lab STAT K 6.1", PriorityNormal, PriorityHigh},
		{"Lab K 6.1", PriorityHigh, PriorityHigh},     // never lowered
		{"stat", PriorityCritical, PriorityCritical},  // never lowered
		{"CODE BLU", PriorityNormal, PriorityNormal},  // shorter than the rule
		{"ÇODE BLUE", PriorityNormal, PriorityNormal}, // multi-byte start
		{"", PriorityNormal, PriorityNormal},
	}
	for _, c := range cases {
		if got := RaisePriority(rules, NewPHI(c.text), c.in); got != c.want {
			t.Errorf("%q from %v: got %v, want %v", c.text, c.in, got, c.want)
		}
	}
	if got := RaisePriority(nil, NewPHI("CODE BLUE"), PriorityNormal); got != PriorityNormal {
		t.Errorf("no rules: %v", got)
	}
}

func TestPriorityRuleValidate(t *testing.T) {
	bad := []PriorityRule{
		{Priority: PriorityHigh},
		{StartsWith: "a", Contains: "b", Priority: PriorityHigh},
		{StartsWith: "a", Priority: PriorityNormal},
		{Contains: "a", Priority: Priority(9)},
	}
	for _, r := range bad {
		if r.Validate() == nil {
			t.Errorf("%+v accepted", r)
		}
	}
	if err := (PriorityRule{StartsWith: "CODE BLUE", Priority: PriorityCritical}).Validate(); err != nil {
		t.Error(err)
	}
}
