package cluster

import (
	"context"
	"fmt"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Client reads a cluster. It holds no cache: each Read asks the server.
type Client struct {
	typed   kubernetes.Interface
	dynamic dynamic.Interface
	// where describes the configuration for messages.
	where string
	host  string
}

// NewClient builds a Client from a rest.Config; where says where the
// config came from, for error messages.
func NewClient(cfg *rest.Config, where string) (*Client, error) {
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return &Client{typed: typed, dynamic: dyn, where: where, host: cfg.Host}, nil
}

// Server is the API server's address.
func (c *Client) Server() string { return c.host }

// Ping asks the server for its version, which any authenticated identity
// may read, so it tells an unreachable server or rejected credentials
// apart from missing permissions.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.typed.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Error(); err != nil {
		return c.reachError(err)
	}
	return nil
}
