package main

import (
	"context"

	"pagebridge/gateway/paging"
	"pagebridge/gateway/threads"
	"pagebridge/storage"
	"pagebridge/ui"
)

// webFiles is ui.Files over the threads service: replies with files,
// downloads, and search in one's own threads.
type webFiles struct{ w webMessaging }

var _ ui.Files = webFiles{}

func files(us []ui.Upload) []threads.File {
	out := make([]threads.File, len(us))
	for i, u := range us {
		out[i] = threads.File{Name: u.Name, Data: u.Data}
	}
	return out
}

// attachments describes a message's files for the web.
func attachments(thread paging.ID, m storage.ThreadMessage) []ui.Attachment {
	var out []ui.Attachment
	for _, a := range m.Attachments {
		out = append(out, ui.Attachment{Thread: thread, Message: m.ID, N: a.N, Name: a.Name, Type: a.Type, Size: a.Size,
			Inline: threads.InlineImage(a.Type)})
	}
	return out
}

func (f webFiles) ReplyWithFiles(ctx context.Context, as ui.Caller, thread paging.ID, text paging.PHI, us []ui.Upload) error {
	_, err := f.w.m.threads.Reply(ctx, caller(as), thread, threads.Content{Text: text, Files: files(us)})
	return webErr(err)
}

func (f webFiles) Attachment(ctx context.Context, as ui.Caller, thread, message paging.ID, n int) (ui.Attachment, []byte, error) {
	a, data, err := f.w.m.threads.Attachment(ctx, caller(as), thread, message, n)
	if err != nil {
		return ui.Attachment{}, nil, webErr(err)
	}
	return ui.Attachment{Thread: thread, Message: message, N: a.N, Name: a.Name, Type: a.Type, Size: a.Size,
		Inline: threads.InlineImage(a.Type)}, data, nil
}

func (f webFiles) Search(ctx context.Context, as ui.Caller, query string) (ui.SearchResult, error) {
	q, err := threads.ParseQuery(query)
	if err != nil {
		return ui.SearchResult{}, err
	}
	hits, rep, err := f.w.m.threads.Search(ctx, caller(as), q)
	if err != nil {
		return ui.SearchResult{}, webErr(err)
	}
	n := f.w.names(ctx)
	out := ui.SearchResult{Threads: rep.Threads, Messages: rep.Messages, More: rep.More}
	for _, h := range hits {
		author := n.of(h.Author)
		if h.Author == "" {
			author = "page"
		}
		out.Hits = append(out.Hits, ui.SearchHit{Thread: h.Thread.ID, Label: h.Thread.Label, Priority: h.Thread.Priority,
			Message: h.Message, At: h.At, AuthorName: author, Subject: h.Subject, Text: h.Text})
	}
	return out, nil
}
