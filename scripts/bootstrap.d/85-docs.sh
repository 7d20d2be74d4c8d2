# The documentation site (issue 16, scripts/docs, mkdocs.yml): MkDocs and Material are dev
# tools in pyproject.toml; the pinned mermaid.min.js comes from the npm registry into the
# cache once. tests/test_docs.py opens the built site in headless Chromium (console errors
# fail it, Mermaid's parse errors among them) and reads its screenshots back with
# tesseract; Chromium installed without recommends has no font, so one is named. npm
# comes with the machine's Node.js (Debian's npm package would conflict with it).
APT_PACKAGES+=(chromium tesseract-ocr fonts-dejavu-core)
POST_INSTALL+=(docs_mermaid)

docs_mermaid() {
  "$ROOT/scripts/docs" fetch >/dev/null
}
