package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hzel/hzel/schema"
	"github.com/hzel/hzel/server/embedpg"
)

// database is an open, migrated pool and, when no DATABASE_URL was given, the embedded
// cluster under it.
type database struct {
	pool    *pgxpool.Pool
	cluster *embedpg.Cluster
	logger  *slog.Logger
}

// openDatabase connects to DATABASE_URL, or starts the embedded cluster, and migrates.
func openDatabase(ctx context.Context, cfg dbConfig, logger *slog.Logger) (_ *database, err error) {
	d := &database{logger: logger}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	url := cfg.URL
	if url == "" {
		d.cluster, err = embedpg.Start(ctx, embedpg.Config{Dir: cfg.DataDir, BinDir: cfg.PGBinDir, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("embedded PostgreSQL: %w", err)
		}
		url = d.cluster.URL()
	}
	poolCfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error would echo the URL, password included.
		return nil, fmt.Errorf("DATABASE_URL is not a valid PostgreSQL connection string")
	}
	poolCfg.MaxConns = int32(cfg.MaxConns)
	d.pool, err = pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := d.pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := schema.Migrate(ctx, d.pool); err != nil {
		return nil, err
	}
	return d, nil
}

// close closes the pool and releases the embedded cluster; the last user out stops it.
func (d *database) close() {
	if d.pool != nil {
		d.pool.Close()
	}
	if d.cluster != nil {
		// The caller's context is usually cancelled by now (a signal); stopping PostgreSQL
		// cleanly still deserves its own time.
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := d.cluster.Stop(ctx); err != nil {
			d.logger.Error("stop embedded PostgreSQL", "error", err)
		}
	}
}
