package oncall

import (
	"encoding/binary"
	"testing"
	"time"
)

var fuzzZones = []string{
	"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia", "America/Sao_Paulo",
	"Europe/Dublin", "UTC", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham", "Antarctica/Troll",
}

// fuzzBytes hands out fuzz input a little at a time; zeros once it runs out.
type fuzzBytes []byte

func (b *fuzzBytes) byte() byte {
	if len(*b) == 0 {
		return 0
	}
	c := (*b)[0]
	*b = (*b)[1:]
	return c
}

func (b *fuzzBytes) int16() int {
	return int(int16(binary.BigEndian.Uint16([]byte{b.byte(), b.byte()})))
}

var fuzzBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fuzzSchedule builds a schedule from fuzz input: mostly plausible values
// near the DST changes of 2025-2027, with invalid ones mixed in.
func fuzzSchedule(zone uint8, zoneName string, data []byte) *Schedule {
	b := fuzzBytes(data)
	pool := []string{"a", "b", "c", "d", ""}
	s := &Schedule{ID: "f", RoleID: "r", Name: "Fuzz", TimeZone: zoneName}
	if int(zone) < len(fuzzZones) {
		s.TimeZone = fuzzZones[zone]
	}
	for range int(b.byte() % 4) {
		l := Layer{Name: "l"}
		for range int(b.byte() % 5) {
			l.Participants = append(l.Participants, pool[b.byte()%byte(len(pool))])
		}
		l.Start = LocalTime{2025 + int(b.byte()%3), time.Month(b.byte() % 13), int(b.byte() % 32), int(b.byte() % 25), int(b.byte() % 61)}
		if c := b.byte(); c == 255 {
			l.Start.Year = b.int16() * 1000
		}
		l.Shift = Length{int(b.byte()%30) - 2, []Unit{UnitHour, UnitDay, UnitWeek, "fortnight"}[b.byte()%4]}
		for range int(b.byte() % 3) {
			var w Window
			days := b.byte()
			for d := range 7 {
				if days&(1<<d) != 0 {
					w.Days = append(w.Days, time.Weekday(d))
				}
			}
			if days&0x80 != 0 {
				w.Days = append(w.Days, time.Weekday(int(days)))
			}
			w.Start = TimeOfDay(b.int16() % 1450)
			w.End = TimeOfDay(b.int16() % 1450)
			l.Windows = append(l.Windows, w)
		}
		s.Layers = append(s.Layers, l)
	}
	for i := range int(b.byte() % 6) {
		o := Override{ID: string(rune('A' + i))}
		o.Kind = []OverrideKind{OverrideAdd, OverrideReplace, OverrideRemove, "swap"}[b.byte()%4]
		o.Person = pool[b.byte()%byte(len(pool))]
		o.Replaces = pool[b.byte()%byte(len(pool))]
		if o.Kind == OverrideRemove && b.byte()%2 == 0 {
			o.Person = ""
		}
		if o.Kind == OverrideAdd && b.byte()%2 == 0 {
			o.Replaces = ""
		}
		o.Start = fuzzBase.Add(time.Duration(b.int16()) * 15 * time.Minute)
		o.End = o.Start.Add(time.Duration(int(b.byte())-8) * 30 * time.Minute)
		s.Overrides = append(s.Overrides, o)
	}
	return s
}

// FuzzOnCall: arbitrary schedules and instants never panic; for a valid
// schedule, Shifts and OnCall agree (checkAgree: at every instant inside
// a shift OnCall lists its person, and at every edge exactly the people
// of the shifts there), and every assignment's reason holds throughout
// its [Since, Until).
func FuzzOnCall(f *testing.F) {
	// Seeds: the schedules of the unit tests, in the decoder's format.
	daily := func(ps []byte, start [5]byte, n, unit byte, wins ...seedWindow) seedLayer {
		return seedLayer{ps, start, n, unit, wins}
	}
	weekdays := seedWindow{0x3e, 8 * 60, 17 * 60}
	nights := seedWindow{0x2a, 20 * 60, 2*60 + 30}
	seeds := []struct {
		zone   uint8
		layers []seedLayer
		ovs    []seedOverride
		at     time.Duration // from fuzzBase
	}{
		{0, []seedLayer{daily([]byte{0, 1, 2}, [5]byte{1, 3, 28, 8, 0}, 1, 1)}, nil, 87 * 24 * time.Hour},
		{0, []seedLayer{daily([]byte{0, 1, 2}, [5]byte{1, 10, 24, 2, 30}, 1, 1)}, nil, 297 * 24 * time.Hour},
		{1, []seedLayer{daily([]byte{0, 1, 2}, [5]byte{1, 3, 7, 2, 30}, 1, 1)}, nil, 66 * 24 * time.Hour},
		{1, []seedLayer{daily([]byte{0, 1, 2}, [5]byte{1, 10, 31, 1, 30}, 1, 1)}, nil, 304 * 24 * time.Hour},
		{0, []seedLayer{
			daily([]byte{0, 1}, [5]byte{1, 1, 5, 8, 0}, 1, 2),
			daily([]byte{2, 3, 0}, [5]byte{1, 1, 5, 0, 0}, 1, 1, weekdays),
			daily([]byte{3, 1}, [5]byte{1, 3, 2, 20, 0}, 12, 0, nights),
		}, []seedOverride{
			{OverrideAdd, 3, 0, 86 * 96, 96},
			{OverrideReplace, 2, 0, 86*96 + 8, 10},
			{OverrideRemove, 0, 1, 85 * 96, 200},
			{OverrideReplace, 3, 4, 87 * 96, 16},
		}, 87 * 24 * time.Hour},
		{2, []seedLayer{daily([]byte{0, 1}, [5]byte{1, 10, 3, 2, 15}, 1, 1)}, nil, 276 * 24 * time.Hour},
		{3, []seedLayer{daily([]byte{0, 1, 2}, [5]byte{0, 12, 29, 12, 0}, 1, 1)}, nil, -730 * 24 * time.Hour},
	}
	for _, sd := range seeds {
		if err := fuzzSchedule(sd.zone, "", encodeSeed(sd.layers, sd.ovs)).Validate(); err != nil {
			f.Fatalf("seed: %v", err)
		}
		f.Add(sd.zone, "", encodeSeed(sd.layers, sd.ovs), int64(sd.at/time.Second))
	}
	f.Add(uint8(255), "Europe/Atlantis", []byte{1, 1, 0}, int64(0))
	f.Add(uint8(255), "Local", []byte{1, 1, 0, 1, 1, 1, 1, 1, 255, 0x7f, 0xff, 3, 2}, int64(1<<62))
	f.Fuzz(func(t *testing.T, zone uint8, zoneName string, data []byte, at int64) {
		s := fuzzSchedule(zone, zoneName, data)
		// Any instant at all: no panic.
		raw := time.Unix(at, at%1e9)
		_ = OnCall(s, raw)
		_, _ = Shifts(s, raw, raw.Add(72*time.Hour))

		valid := s.Validate() == nil
		t0 := fuzzBase.Add(time.Duration(at%(3*365*86400)) * time.Second)
		from, to := t0.Add(-36*time.Hour), t0.Add(36*time.Hour)
		sh, err := Shifts(s, from, to)
		if !valid {
			if err == nil {
				t.Fatalf("Shifts accepted an invalid schedule: %+v", s)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		checkAgree(t, s, sh, from, to)
		checkBounds(t, s, t0, OnCall(s, t0))
	})
}

type seedLayer struct {
	ps    []byte  // indices into the pool
	start [5]byte // year-2025, month, day, hour, minute
	n     byte
	unit  byte // 0 hour, 1 day, 2 week
	wins  []seedWindow
}

type seedWindow struct {
	days       byte // bit d for time.Weekday(d)
	start, end int  // minutes
}

type seedOverride struct {
	kind             OverrideKind
	person, replaces byte // indices into the pool (4 is "")
	start15m, len30m int  // from fuzzBase, in 15 and 30 minutes
}

// encodeSeed writes what fuzzSchedule reads.
func encodeSeed(layers []seedLayer, ovs []seedOverride) []byte {
	var b []byte
	i16 := func(v int) { b = binary.BigEndian.AppendUint16(b, uint16(int16(v))) }
	b = append(b, byte(len(layers)))
	for _, l := range layers {
		b = append(b, byte(len(l.ps)))
		b = append(b, l.ps...)
		b = append(b, l.start[:]...)
		b = append(b, 0, l.n+2, l.unit, byte(len(l.wins)))
		for _, w := range l.wins {
			b = append(b, w.days)
			i16(w.start)
			i16(w.end)
		}
	}
	b = append(b, byte(len(ovs)))
	for _, o := range ovs {
		kind := map[OverrideKind]byte{OverrideAdd: 0, OverrideReplace: 1, OverrideRemove: 2}[o.kind]
		b = append(b, kind, o.person, o.replaces)
		if o.kind == OverrideRemove || o.kind == OverrideAdd {
			b = append(b, 0) // clear the field the kind does not use
		}
		i16(o.start15m)
		b = append(b, byte(o.len30m+8))
	}
	return b
}
