# Kubernetes manifests and GitHub Actions workflows (issue 6): the real checkers.
# kustomize builds every overlay; kubernetes-validate checks the output against the
# bundled upstream schemas for several Kubernetes minors; kube-score lints it;
# tests/tools/podsecurity (go run, own go.mod) evaluates the pod specs with the
# upstream Pod Security admission library; actionlint, zizmor and yamllint check the
# workflows. The Gateway API and Argo Rollouts CRD schemas come from those projects'
# Go modules (go mod download in the tests, pinned in tests/test_k8s.py).
# kustomize v5.8.3 needs Go 1.27: v5.8.2 is the newest that builds with Go 1.26.
# check-jsonschema checks the Dependabot config against its vendored schema.
# shellcheck: actionlint runs it on every workflow `run:` script, and the tests on check.sh.
APT_PACKAGES+=(shellcheck)
PIP_PACKAGES+=(
  "kubernetes-validate==1.37.0"
  "zizmor==1.32.0"
  "yamllint==1.38.0"
  "check-jsonschema==0.39.0"
)
GO_TOOLS+=(
  "sigs.k8s.io/kustomize/kustomize/v5@v5.8.2"
  "github.com/zegl/kube-score/cmd/kube-score@v1.20.0"
  "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"
)
