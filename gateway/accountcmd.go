package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/alexedwards/argon2id"

	"pagebridge/gateway/admin"
	"pagebridge/gateway/paging"
	"pagebridge/ui"
)

// cmdAccount is `pagebridge account create`: a web account with a
// one-time password, for the first administrator of a new box (later
// ones are made on the web app's accounts page).
func cmdAccount(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const usage = "usage: pagebridge account create [-config FILE | -data DIR] -username NAME -role admin|it|operator|clinician -person ID [-name \"FULL NAME\"]"
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	var a admin.Account
	cfg, _, code := adminFlags("account create", " -username NAME -role ROLE -person ID [-name NAME]", 0, args[1:], stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&a.Username, "username", "", "the sign-in name")
		fs.StringVar(&a.Role, "role", "", "admin, it, operator or clinician")
		fs.StringVar(&a.Person, "person", "", "the directory person the account acts as")
		fs.StringVar(&a.Name, "name", "", "create the person with this name if the directory lacks it")
	})
	if code >= 0 {
		return code
	}
	if a.Username == "" || a.Role == "" || a.Person == "" {
		fmt.Fprintln(stderr, "pagebridge account create: -username, -role and -person are required")
		return exitUsage
	}
	return adminCall(ctx, "account create", cfg, admin.Request{Op: admin.OpAccountCreate, Account: &a}, stdout, stderr)
}

// CreateAccount makes a web account whose password must be changed at
// the first sign-in, creating its person first when asked to, and
// returns the one-time password.
func (a adminOps) CreateAccount(ctx context.Context, acc admin.Account) (string, error) {
	if !slices.Contains(ui.Roles, acc.Role) {
		return "", fmt.Errorf("role %q: want one of %v", acc.Role, ui.Roles)
	}
	uid, _ := admin.PeerUID(ctx)
	by := paging.AuditEvent{Actor: fmt.Sprintf("admin-socket:uid=%d", uid), Source: "admin socket", Detail: "account create"}
	if _, err := a.m.store.Person(ctx, acc.Person); errors.Is(err, paging.ErrNotFound) && acc.Name != "" {
		p := paging.Person{ID: acc.Person, Name: acc.Name, Stage: paging.StageApp}
		if err := p.Validate(); err != nil {
			return "", err
		}
		if err := a.m.store.PutPerson(ctx, p, by); err != nil {
			return "", err
		}
	} else if err != nil && !errors.Is(err, paging.ErrNotFound) {
		return "", err
	}
	password := randomSecret(16)
	hash, err := argon2id.CreateHash(password, argon2id.DefaultParams)
	if err != nil {
		return "", err
	}
	if err := newWebAdmin(a.m.store).CreateAccount(ctx, ui.NewAccount{Username: acc.Username, Person: acc.Person,
		Role: acc.Role, PasswordHash: hash}, by); err != nil {
		return "", err
	}
	mfa := ""
	if slices.Contains(a.m.cfg.Web.MFARoles, acc.Role) {
		mfa = "; this role enrols a TOTP authenticator at that sign-in"
	}
	return fmt.Sprintf("account %s (role %s, person %s)\none-time password: %s\n# shown once: sign in at /app/ and choose a new password%s\n",
		acc.Username, acc.Role, acc.Person, password, mfa), nil
}
