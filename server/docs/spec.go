package docs

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/hzel/hzel/gen/apiserver"
)

// contract is the spec the server validates requests against, encoded once for serving.
type contract struct {
	title string
	json  []byte // indented, for people reading /openapi.json
	yaml  []byte
}

// loadContract encodes the generated package's embedded spec, so that the documentation can
// never describe another version of the contract than the one the validator enforces.
func loadContract() (contract, error) {
	doc, err := apiserver.GetSwagger()
	if err != nil {
		return contract{}, fmt.Errorf("load embedded spec: %w", err)
	}
	j, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return contract{}, fmt.Errorf("encode spec as JSON: %w", err)
	}
	y, err := jsonToYAML(j)
	if err != nil {
		return contract{}, fmt.Errorf("encode spec as YAML: %w", err)
	}
	title := "API reference"
	if doc.Info != nil && doc.Info.Title != "" {
		title = doc.Info.Title + " reference"
	}
	return contract{title: title, json: j, yaml: y}, nil
}

// jsonToYAML re-encodes a JSON document as block-style YAML. Going through yaml.Node rather
// than a map keeps the keys in the JSON's order and every scalar exactly as written.
func jsonToYAML(j []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(j, &doc); err != nil {
		return nil, err
	}
	blockStyle(&doc)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// blockStyle drops the flow and quoting styles that JSON syntax implies, so that the encoder
// writes ordinary YAML; it still quotes any string that would otherwise read as another type.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}
