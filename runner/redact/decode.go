package redact

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// ErrUnsupportedEncoding is returned by DecodeBody for a Content-Encoding
// it cannot decode (br, zstd, compress, ...). Such a body cannot be scanned
// for secrets, so it must be refused rather than passed on.
var ErrUnsupportedEncoding = errors.New("redact: unsupported content encoding")

// AcceptEncoding is the Accept-Encoding to send upstream: identity, so the
// body arrives in plain text, with the encodings DecodeBody understands as
// fallbacks.
const AcceptEncoding = "identity, gzip;q=0.5, deflate;q=0.5"

// DecodeBody returns the plain form of a response body encoded as h's
// Content-Encoding says (gzip, deflate as zlib or raw, identity, or a list
// of these), ready to be redacted. It removes Content-Encoding and
// Content-Length from h, since the body passed on is decoded and redacted.
// An encoding it cannot decode, or more than maxCodings of them, gives
// ErrUnsupportedEncoding and leaves h unchanged; on error the caller still
// owns and must close body.
func DecodeBody(h http.Header, body io.ReadCloser) (io.ReadCloser, error) {
	codings, err := contentCodings(h)
	if err != nil {
		return nil, err
	}
	h.Del("Content-Length")
	h.Del("Content-Encoding")
	if len(codings) == 0 {
		return body, nil
	}
	d := &decodedBody{body: body}
	br := bufio.NewReader(body)
	if _, err := br.Peek(1); err == io.EOF {
		d.Reader = br // an empty body decodes to nothing
		return d, nil
	}
	var r io.Reader = br
	for i := len(codings) - 1; i >= 0; i-- {
		dr, err := decoder(codings[i], r)
		if err != nil {
			d.closeDecoders()
			return nil, err
		}
		d.decoders = append(d.decoders, dr)
		r = dr
	}
	d.Reader = r
	return d, nil
}

// maxCodings bounds the codings DecodeBody stacks: each takes a decoder
// with a 32 KiB window, so thousands of them (a header line's worth of
// "gzip,") would hold hundreds of MiB for one small body.
const maxCodings = 4

// contentCodings returns the codings of h's Content-Encoding in the order
// they were applied, without identity.
func contentCodings(h http.Header) ([]string, error) {
	var codings []string
	for _, v := range h.Values("Content-Encoding") {
		for c := range strings.SplitSeq(v, ",") {
			c = strings.ToLower(strings.TrimSpace(c))
			switch c {
			case "", "identity":
			case "gzip", "x-gzip", "deflate":
				if len(codings) == maxCodings {
					return nil, fmt.Errorf("%w: more than %d codings", ErrUnsupportedEncoding, maxCodings)
				}
				codings = append(codings, c)
			default:
				return nil, fmt.Errorf("%w %q", ErrUnsupportedEncoding, c)
			}
		}
	}
	return codings, nil
}

func decoder(coding string, r io.Reader) (io.ReadCloser, error) {
	if coding == "deflate" {
		return deflateReader(r)
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("redact: gzip body: %v", err)
	}
	return zr, nil
}

// deflateReader decodes HTTP deflate, which servers send either as zlib
// (as the RFC says) or as raw deflate; the zlib header tells them apart.
func deflateReader(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(2)
	if len(head) == 2 && head[0]&0x0f == 8 && head[0]>>4 <= 7 && (uint16(head[0])<<8|uint16(head[1]))%31 == 0 {
		zr, err := zlib.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("redact: deflate body: %v", err)
		}
		return zr, nil
	}
	return flate.NewReader(br), nil
}

// decodedBody reads the decoded body and closes the decoders and the
// original body.
type decodedBody struct {
	io.Reader
	decoders []io.ReadCloser
	body     io.ReadCloser
}

func (d *decodedBody) closeDecoders() {
	for _, dr := range d.decoders {
		dr.Close()
	}
}

func (d *decodedBody) Close() error {
	d.closeDecoders()
	return d.body.Close()
}
