// Command composeconfig loads a Compose file the way `docker compose config`
// does (compose-go: interpolation, merge keys, profiles, depends_on checks)
// and prints the resolved project as JSON, for deploy/check/validate.py.
// It is its own module so that the broker's go.mod does not carry
// compose-go; `make deploy-check` builds it.
//
//	composeconfig FILE [PROFILE...]
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: composeconfig FILE [PROFILE...]")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "composeconfig:", err)
		os.Exit(1)
	}
}

func run(file string, profiles []string) error {
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithProfiles(profiles), cli.WithOsEnv, cli.WithDotEnv, cli.WithName("moldau"))
	if err != nil {
		return err
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		return err
	}
	out, err := project.MarshalJSON()
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(out, '\n'))
	return err
}
