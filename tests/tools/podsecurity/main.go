// Command podsecurity evaluates every pod template in Kubernetes manifests (a multi-document
// YAML stream on stdin, as `kustomize build` prints it) against a Pod Security Standards
// level with the upstream evaluator, k8s.io/pod-security-admission, the code the API
// server's admission plugin runs.
//
//	kustomize build overlays/staging | go run . -level restricted -version latest
//
// It prints one line per pod template and exits 1 if any is not allowed, 2 on bad input or
// when the stream holds no pod template at all (so an empty build cannot pass).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	sigsyaml "sigs.k8s.io/yaml"
)

// templatePaths says where each workload kind keeps its pod template.
var templatePaths = map[string][]string{
	"Deployment":  {"spec", "template"},
	"StatefulSet": {"spec", "template"},
	"DaemonSet":   {"spec", "template"},
	"ReplicaSet":  {"spec", "template"},
	"Job":         {"spec", "template"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template"},
	"Rollout":     {"spec", "template"}, // Argo Rollouts
	"PodTemplate": {"template"},
}

func main() {
	level := flag.String("level", "restricted", "Pod Security Standards level: privileged, baseline or restricted")
	version := flag.String("version", "latest", "policy version, e.g. v1.35 or latest")
	flag.Parse()
	code, err := run(os.Stdin, os.Stdout, *level, *version)
	if err != nil {
		fmt.Fprintln(os.Stderr, "podsecurity:", err)
	}
	os.Exit(code)
}

func run(in io.Reader, out io.Writer, levelName, versionName string) (int, error) {
	level, err := api.ParseLevel(levelName)
	if err != nil {
		return 2, fmt.Errorf("-level: %w", err)
	}
	version, err := api.ParseVersion(versionName)
	if err != nil {
		return 2, fmt.Errorf("-version: %w", err)
	}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return 2, err
	}
	lv := api.LevelVersion{Level: level, Version: version}

	reader := yaml.NewYAMLReader(bufio.NewReader(in))
	evaluated, denied := 0, 0
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 2, err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var obj map[string]any
		if err := sigsyaml.Unmarshal(doc, &obj); err != nil {
			return 2, err
		}
		if obj == nil {
			continue
		}
		kind, _ := obj["kind"].(string)
		path, ok := templatePaths[kind]
		if !ok {
			continue
		}
		name := fmt.Sprintf("%s/%s", kind, nested(obj, "metadata", "name"))
		raw := nested(obj, path...)
		if raw == nil {
			return 2, fmt.Errorf("%s has no pod template at %s", name, strings.Join(path, "."))
		}
		encoded, err := sigsyaml.Marshal(raw)
		if err != nil {
			return 2, err
		}
		var template corev1.PodTemplateSpec
		// Strict: a misspelled field would otherwise be dropped and never evaluated.
		if err := sigsyaml.UnmarshalStrict(encoded, &template); err != nil {
			return 2, fmt.Errorf("%s: pod template: %w", name, err)
		}
		evaluated++
		result := policy.AggregateCheckResults(evaluator.EvaluatePod(lv, &template.ObjectMeta, &template.Spec))
		if result.Allowed {
			fmt.Fprintf(out, "ALLOWED %s at %s\n", name, lv)
			continue
		}
		denied++
		fmt.Fprintf(out, "DENIED %s at %s: %s (%s)\n", name, lv, result.ForbiddenReason(), result.ForbiddenDetail())
	}
	if evaluated == 0 {
		return 2, errors.New("no pod template found in the input")
	}
	if denied > 0 {
		return 1, nil
	}
	return 0, nil
}

func nested(obj map[string]any, path ...string) any {
	var cur any = obj
	for _, key := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[key]
	}
	return cur
}
