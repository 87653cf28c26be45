package policies_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/The-17/agentsecrets/hostfns"
	"github.com/The-17/agentsecrets/policies"
)

func ExampleParseInjection() {
	s, err := policies.ParseInjection("header", "X-Api-Key=OPENAI_KEY")
	fmt.Println(s.Name, s.Params["name"], s.Params["key"], err)
	_, err = policies.ParseInjection("query", "api_key")
	fmt.Println(err)
	// Output:
	// header X-Api-Key OPENAI_KEY <nil>
	// policies: query injection wants param=KEY, got "api_key"
}

func ExampleEngine_DryRun() {
	ctx := context.Background()
	e, err := policies.NewEngine(ctx, policies.Config{})
	if err != nil {
		panic(err)
	}
	defer e.Close(ctx)
	bearer, _ := policies.ParseInjection("bearer", "STRIPE_KEY")
	query, _ := policies.ParseInjection("query", "api_key=MAPS_KEY")
	u, _ := url.Parse("https://api.example.com/v1/charges")
	res, err := e.DryRun(ctx, []policies.Spec{bearer, query}, &hostfns.Request{Method: "GET", URL: u, Header: http.Header{}}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Print(res.Text)
	// Output:
	// GET https://api.example.com/v1/charges?api_key=[SECRET:MAPS_KEY] HTTP/1.1
	// Authorization: Bearer [SECRET:STRIPE_KEY]
}
