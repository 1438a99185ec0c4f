package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Options say how to reach the cluster, as kubectl's flags do.
type Options struct {
	// Kubeconfig is an explicit kubeconfig file (--kubeconfig); empty means
	// $KUBECONFIG, then ~/.kube/config, then the in-cluster service account.
	Kubeconfig string
	// Context overrides the kubeconfig's current context (--context).
	Context string
	// ContextFlag is the flag that sets Context, for messages; empty
	// means --context (drift, with the hubble CLI's flags, has
	// --kube-context).
	ContextFlag string
	// Timeout bounds each request; zero means 30 seconds.
	Timeout time.Duration
}

// Connect builds a client from Options and checks the server answers, so
// that a wrong file, context or address fails here with one clear message.
func Connect(ctx context.Context, opts Options) (*Client, error) {
	cfg, where, err := restConfig(opts)
	if err != nil {
		return nil, err
	}
	c, err := NewClient(cfg, where)
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// RESTConfig resolves Options to a rest.Config and a description of where
// it came from ("context kind-a in /home/me/.kube/config") for messages,
// for callers that build their own clients (drift's informers). Errors
// name the file or context to fix.
func RESTConfig(opts Options) (*rest.Config, string, error) { return restConfig(opts) }

// restConfig resolves Options to a rest.Config and a description of where
// it came from ("context kind-a in /home/me/.kube/config") for messages.
func restConfig(opts Options) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if opts.Kubeconfig != "" {
		if _, err := os.Stat(opts.Kubeconfig); err != nil {
			return nil, "", fmt.Errorf("kubeconfig %s: %w; pass an existing file with --kubeconfig", opts.Kubeconfig, errors.Unwrap(err))
		}
		rules.ExplicitPath = opts.Kubeconfig
	}
	raw, err := rules.Load()
	if err != nil {
		return nil, "", fmt.Errorf("read kubeconfig %s: %w", describeFiles(rules), err)
	}
	if len(raw.Contexts) == 0 && opts.Kubeconfig == "" && opts.Context == "" {
		cfg, inErr := rest.InClusterConfig()
		if inErr != nil {
			return nil, "", fmt.Errorf("no cluster configured: no kubeconfig at %s and not running in a pod (%v); pass --kubeconfig or set KUBECONFIG", describeFiles(rules), inErr)
		}
		applyTimeout(cfg, opts)
		return cfg, "in-cluster service account", nil
	}
	contextName := raw.CurrentContext
	if opts.Context != "" {
		contextName = opts.Context
	}
	if contextName == "" {
		return nil, "", fmt.Errorf("kubeconfig %s has no current context; pass %s with one of: %s", describeFiles(rules), opts.contextFlag(), contextNames(raw))
	}
	if _, ok := raw.Contexts[contextName]; !ok {
		return nil, "", fmt.Errorf("context %q is not in kubeconfig %s; use %s with one of: %s", contextName, describeFiles(rules), opts.contextFlag(), contextNames(raw))
	}
	cc := clientcmd.NewNonInteractiveClientConfig(*raw, contextName, &clientcmd.ConfigOverrides{}, rules)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("context %q in kubeconfig %s: %w", contextName, describeFiles(rules), err)
	}
	applyTimeout(cfg, opts)
	return cfg, fmt.Sprintf("context %q in %s", contextName, describeFiles(rules)), nil
}

func (o Options) contextFlag() string {
	if o.ContextFlag != "" {
		return o.ContextFlag
	}
	return "--context"
}

func applyTimeout(cfg *rest.Config, opts Options) {
	cfg.Timeout = opts.Timeout
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
}

func describeFiles(rules *clientcmd.ClientConfigLoadingRules) string {
	if rules.ExplicitPath != "" {
		return rules.ExplicitPath
	}
	return strings.Join(rules.GetLoadingPrecedence(), string(os.PathListSeparator))
}

func contextNames(cfg *clientcmdapi.Config) string {
	if len(cfg.Contexts) == 0 {
		return "(none defined)"
	}
	names := make([]string, 0, len(cfg.Contexts))
	for n := range cfg.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
