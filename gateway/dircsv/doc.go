// Package dircsv reads and writes the directory as CSV, the way hospitals
// keep pager lists: in spreadsheets. It is pure (no storage, no IO beyond
// the reader and writer it is given).
//
// Two files, each with a header line naming its columns:
//
//	people:    id,name,department,title,stage,roles,app,pager,pager_via,pager_pocsag,sms
//	pager IDs: pager_id,target_kind,target_id,priority,policy,label
//
// In people, roles, app, pager and sms are lists separated by ";"
// (empty: none). pager_via names the terminal that carries the person's
// pagers: one for all of them, or one per pager in the same order.
// pager_pocsag codes pagers on a transmitter the agent drives (their
// pager is the capcode): rate/function/kind, with /group for a group
// capcode ("1200/3/alpha", "512/0/numeric/group"); one for all, or one
// per pager with "-" for a pager on a paging terminal; empty for none. It
// is the one column a file may leave out (files from before it).
// Endpoints come out grouped app, pager, sms, each in column order. An
// empty priority in pager IDs means normal.
//
// Main functions:
//
//   - [ParsePeople] and [ParsePagerIDs] return every good record with its
//     line number ([Row]), and an [*Error] listing every bad row with its
//     line and a reason (wrong column count, bad stage, bad E.164 number,
//     unknown target kind, duplicate ID, a CSV quoting error...). The
//     header is required; its columns may come in any order but must be
//     exactly the expected ones.
//   - [FormatPeople] and [FormatPagerIDs] write the same format, so an
//     export imports back to the same records.
//
// Tolerated: a UTF-8 byte order mark, CRLF or LF line ends, blank lines
// and rows whose every cell is empty (spreadsheets write those), spaces
// around values, upper-case stage, target kind, priority and column
// names.
//
// # Caveats
//
//   - Values are trimmed of surrounding spaces, so a name stored with a
//     leading space comes back without it.
//   - Spreadsheet formulas: a cell that starts with =, +, -, @ or ' is
//     written with a leading ' so that a spreadsheet does not evaluate it
//     (CSV injection); the parser removes exactly that one '. A value
//     typed into a spreadsheet starting with ' followed by one of those
//     characters therefore loses its first '.
//   - Control characters (tabs, line breaks inside quoted cells) and
//     text that is not UTF-8 are refused, by both Parse and Format: save
//     spreadsheets as "CSV UTF-8".
//   - At most [MaxRows] rows; the caller bounds the input's size.
//   - Parse checks each record on its own (paging's Validate) and
//     duplicates within the file; references (a pager ID's target, a
//     role named in roles) are the importer's to check.
package dircsv
