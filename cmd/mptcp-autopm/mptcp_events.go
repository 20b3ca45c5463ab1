package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// eventNames are the names `ip mptcp monitor` prints. iproute2 6.1 prints
// the listener events as "UNKNOWN 15" and "UNKNOWN 16"; newer releases and
// this CLI name them.
var eventNames = map[pm.EventType]string{
	pm.EventCreated:         "CREATED",
	pm.EventEstablished:     "ESTABLISHED",
	pm.EventClosed:          "CLOSED",
	pm.EventAnnounced:       "ANNOUNCED",
	pm.EventRemoved:         "REMOVED",
	pm.EventSubEstablished:  "SF_ESTABLISHED",
	pm.EventSubClosed:       "SF_CLOSED",
	pm.EventSubPriority:     "SF_PRIO",
	pm.EventListenerCreated: "LISTENER_CREATED",
	pm.EventListenerClosed:  "LISTENER_CLOSED",
}

// An eventField is one attribute as the monitor prints it.
type eventField struct {
	key  string
	text string // value as printed after "key="
	num  uint64 // value in JSON, unless str
	str  bool   // JSON value is text, quoted
}

// eventFields lists the attributes ev carried, in the order and number
// formats of iproute2's mptcp_monitor_msg.
func eventFields(ev pm.Event) []eventField {
	var fs []eventField
	has := ev.Present.Has
	num := func(key string, v uint64) {
		fs = append(fs, eventField{key: key, text: fmt.Sprint(v), num: v})
	}
	addr := func(key string, a pm.EventAttr, v fmt.Stringer) {
		if has(a) {
			fs = append(fs, eventField{key: key, text: v.String(), str: true})
		}
	}

	if has(pm.AttrToken) {
		fs = append(fs, eventField{key: "token",
			text: fmt.Sprintf("%08x", ev.Token), str: true})
	}
	if has(pm.AttrRemID) {
		num("remid", uint64(ev.RemoteID))
	}
	if has(pm.AttrLocID) {
		num("locid", uint64(ev.LocalID))
	}
	addr("saddr4", pm.AttrSaddr4, ev.Saddr)
	addr("daddr4", pm.AttrDaddr4, ev.Daddr)
	addr("saddr6", pm.AttrSaddr6, ev.Saddr)
	addr("daddr6", pm.AttrDaddr6, ev.Daddr)

	return append(fs, eventTail(ev)...)
}

// eventTail lists the attributes after the addresses.
func eventTail(ev pm.Event) []eventField {
	var fs []eventField
	has := ev.Present.Has
	num := func(a pm.EventAttr, key string, v uint64) {
		if has(a) {
			fs = append(fs, eventField{key: key, text: fmt.Sprint(v), num: v})
		}
	}

	num(pm.AttrSport, "sport", uint64(ev.Sport))
	num(pm.AttrDport, "dport", uint64(ev.Dport))
	backup := uint64(0)
	if ev.Backup {
		backup = 1
	}
	num(pm.AttrBackup, "backup", backup)
	num(pm.AttrError, "error", uint64(ev.Error))
	if has(pm.AttrFlags) {
		fs = append(fs, eventField{key: "flags",
			text: fmt.Sprintf("%x", ev.Flags), num: uint64(ev.Flags)})
	}
	num(pm.AttrTimeout, "timeout", uint64(ev.Timeout))
	if has(pm.AttrIfindex) {
		fs = append(fs, eventField{key: "ifindex",
			text: fmt.Sprint(ev.Ifindex), num: uint64(ev.Ifindex)})
	}
	num(pm.AttrResetReason, "reset_reason", uint64(ev.ResetReason))
	if has(pm.AttrResetFlags) {
		fs = append(fs, eventField{key: "reset_flags",
			text: fmt.Sprintf("0x%x", ev.ResetFlags),
			num:  uint64(ev.ResetFlags)})
	}

	return fs
}

// formatEventText formats ev as one line of `ip mptcp monitor`:
// "[%14s] token=%08x remid=N ...". The token is left out only for events
// that carry none (the listener events).
func formatEventText(ev pm.Event) string {
	name, ok := eventNames[ev.Type]
	if !ok {
		return fmt.Sprintf("[UNKNOWN %d]\n", uint8(ev.Type))
	}

	var b strings.Builder
	fmt.Fprintf(&b, "[%14s]", name)
	for _, f := range eventFields(ev) {
		fmt.Fprintf(&b, " %s=%s", f.key, f.text)
	}
	b.WriteString("\n")

	return b.String()
}

// formatEventJSON formats ev as one JSON object on one line, with the keys
// of newer iproute2's `ip -j mptcp monitor`: "event" holds the name, the
// token is a "0x" string, and the flag bits the kernel defines become
// "server_side" and "deny_join_id0".
func formatEventJSON(ev pm.Event, ts string, o options,
	ifname ifnameFunc) string {
	w := &jsonWriter{pretty: o.pretty}
	w.startObject()
	if ts != "" {
		key := "timestamp"
		if o.tshort {
			key = "timestamp_short"
		}
		w.str(key, ts)
	}

	name, ok := eventNames[ev.Type]
	if !ok {
		w.str("event", fmt.Sprintf("UNKNOWN %d", uint8(ev.Type)))
		w.endObject()

		return w.String()
	}
	w.str("event", name)
	writeEventFieldsJSON(w, ev, ifname)
	w.endObject()

	return w.String()
}

func writeEventFieldsJSON(w *jsonWriter, ev pm.Event, ifname ifnameFunc) {
	for _, f := range eventFields(ev) {
		switch {
		case f.key == "token":
			w.str("token", hex0x(uint64(ev.Token)))
		case f.key == "reset_flags":
			w.str(f.key, hex0x(f.num))
		case f.key == "flags":
			// Written below, split into named bits.
		case f.key == "ifindex":
			w.int("ifindex", int64(ev.Ifindex))
			if n := devLookup(ifname, ev.Ifindex); n != "" {
				w.str("dev", n)
			}
		case f.str:
			w.str(f.key, f.text)
		default:
			w.uint(f.key, f.num)
		}
	}
	writeEventFlagsJSON(w, ev)
}

// writeEventFlagsJSON writes the server-side and deny-join-id0 bits as
// booleans and any other bit as a hex "flags" string.
func writeEventFlagsJSON(w *jsonWriter, ev pm.Event) {
	flags := ev.Flags
	if ev.ServerSide {
		w.bool("server_side", true)
	}
	flags &^= pm.EventFlagServerSide
	if flags&pm.EventFlagDenyJoinID0 != 0 {
		w.bool("deny_join_id0", true)
		flags &^= pm.EventFlagDenyJoinID0
	}
	if flags != 0 {
		w.str("flags", hex0x(uint64(flags)))
	}
}

// hex0x formats v as C's "%#llx": "0x2a", and "0" for zero.
func hex0x(v uint64) string {
	if v == 0 {
		return "0"
	}

	return fmt.Sprintf("%#x", v)
}

// formatTimestamp formats t as iproute2's print_timestamp does, for the
// text monitor: "Timestamp: Fri Dec  4 09:33:38 2026 918902 usec\n", or
// with -ts "[2026-12-04T09:33:38.918902] " before the event on its line.
// For JSON it returns the bare value.
func formatTimestamp(t time.Time, o options) string {
	usec := t.Nanosecond() / 1000
	var v string
	if o.tshort {
		v = fmt.Sprintf("%s.%06d", t.Format("2006-01-02T15:04:05"), usec)
	} else {
		v = fmt.Sprintf("%s %d usec",
			t.Format("Mon Jan _2 15:04:05 2006"), usec)
	}

	switch {
	case o.json:
		return v
	case o.tshort:
		return "[" + v + "] "
	}

	return "Timestamp: " + v + "\n"
}

// formatEvent formats ev for the monitor with the options in o, at time t.
func formatEvent(ev pm.Event, t time.Time, o options,
	ifname ifnameFunc) string {
	ts := ""
	if o.timestamp {
		ts = formatTimestamp(t, o)
	}
	if o.json {
		return formatEventJSON(ev, ts, o, ifname)
	}

	return ts + formatEventText(ev)
}

// devLookup is ifname(i), or "" without a lookup function.
func devLookup(ifname ifnameFunc, i int32) string {
	if ifname == nil {
		return ""
	}

	return ifname(i)
}
