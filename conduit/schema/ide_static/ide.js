// Starts GraphiQL against this server. A console session (cookie) sends its CSRF token with every
// operation; with no session, add an `Authorization: Bearer <token>` header in the Headers tab.
(async function () {
  const headers = {};
  try {
    const reply = await fetch("/console/session", { credentials: "same-origin" });
    if (reply.ok) {
      const session = await reply.json();
      headers["X-Conduit-CSRF"] = session.csrfToken;
    }
  } catch (_) {
    // No console here: tokens only.
  }
  const url = new URL("/graphql", window.location.href);
  const wsUrl = url.href.replace(/^http/, "ws");
  const fetcher = GraphiQL.createFetcher({ url: url.href, subscriptionUrl: wsUrl, headers });
  const defaultQuery = "{\n  viewer {\n    scopes\n    organization { name slug }\n  }\n}\n";
  // The explorer plugin is a React hook: it lives inside a component that owns the query.
  function Ide() {
    const [query, setQuery] = React.useState(defaultQuery);
    const plugins = window.GraphiQLPluginExplorer ? [GraphiQLPluginExplorer.useExplorerPlugin({ query, onEdit: setQuery })] : [];
    return React.createElement(GraphiQL, {
      fetcher,
      plugins,
      query,
      onEditQuery: setQuery,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
    });
  }
  ReactDOM.render(React.createElement(Ide), document.getElementById("graphiql"));
})();
