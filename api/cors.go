package api

import (
	"net/http"

	"github.com/rs/cors"
)

// corsHandler is geth's CORS handler for the HTTP listener (go-ethereum's
// node package builds it with these options: the listed origins, POST and
// GET, any header, a 10-minute preflight cache), with one difference from
// what the node package would build in this module: a preflight it allows
// is answered 200, as op-geth and geth answer it. They are built with
// rs/cors v1.7.0, which answers 200; this module resolves v1.11.0, whose
// default is 204. No origins means no CORS headers at all, as in geth.
func corsHandler(next http.Handler, origins []string) http.Handler {
	if len(origins) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins:       origins,
		AllowedMethods:       []string{http.MethodPost, http.MethodGet},
		AllowedHeaders:       []string{"*"},
		MaxAge:               600,
		OptionsSuccessStatus: http.StatusOK,
	}).Handler(next)
}
