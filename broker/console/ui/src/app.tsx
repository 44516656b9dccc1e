// The console's single-page UI: a hash router over the pages (API.md's
// routes), a left navigation and the error banner.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ErrorBanner } from "./components";
import { clearErrors } from "./errors";
import { GroupPage, GroupsPage } from "./pages/groups";
import { OverviewPage } from "./pages/overview";
import { SchemasPage, SubjectPage } from "./pages/schemas";
import { SecurityPage } from "./pages/security";
import { TopicPage } from "./pages/topic";
import { TopicsPage } from "./pages/topics";

type Route =
  | { page: "overview" }
  | { page: "topics" }
  | { page: "topic"; name: string }
  | { page: "groups" }
  | { page: "group"; name: string }
  | { page: "schemas" }
  | { page: "subject"; name: string }
  | { page: "security" }
  | { page: "notfound"; path: string };

function parse(hash: string): Route {
  const path = hash.replace(/^#/, "").replace(/^\/+/, "").replace(/\?.*$/, "");
  const parts = path.split("/");
  const rest = () => {
    try {
      return decodeURIComponent(parts.slice(1).join("/"));
    } catch {
      return parts.slice(1).join("/");
    }
  };
  switch (parts[0]) {
    case "":
      return { page: "overview" };
    case "topics":
      return parts.length > 1 && parts[1] !== "" ? { page: "topic", name: rest() } : { page: "topics" };
    case "groups":
      return parts.length > 1 && parts[1] !== "" ? { page: "group", name: rest() } : { page: "groups" };
    case "schemas":
      return parts.length > 1 && parts[1] !== "" ? { page: "subject", name: rest() } : { page: "schemas" };
    case "security":
      return { page: "security" };
  }
  return { page: "notfound", path };
}

function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => {
      clearErrors();
      setHash(location.hash);
    };
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return parse(hash);
}

const sections: [string, string, Route["page"][]][] = [
  ["overview", "Overview", ["overview"]],
  ["topics", "Topics", ["topics", "topic"]],
  ["groups", "Consumer groups", ["groups", "group"]],
  ["schemas", "Schemas", ["schemas", "subject"]],
  ["security", "Security", ["security"]],
];

// title names the page in the browser's tab and history.
function title(r: Route): string {
  switch (r.page) {
    case "topic":
    case "group":
    case "subject":
      return `${r.name} · Moldau`;
    case "notfound":
      return "Not found · Moldau";
  }
  const s = sections.find(([, , pages]) => pages.includes(r.page));
  return `${s ? s[1] : "Console"} · Moldau`;
}

function App() {
  const route = useRoute();
  useEffect(() => {
    document.title = title(route);
  });
  let page;
  switch (route.page) {
    case "overview":
      page = <OverviewPage />;
      break;
    case "topics":
      page = <TopicsPage />;
      break;
    case "topic":
      page = <TopicPage key={route.name} topic={route.name} />;
      break;
    case "groups":
      page = <GroupsPage />;
      break;
    case "group":
      page = <GroupPage key={route.name} group={route.name} />;
      break;
    case "schemas":
      page = <SchemasPage />;
      break;
    case "subject":
      page = <SubjectPage key={route.name} subject={route.name} />;
      break;
    case "security":
      page = <SecurityPage />;
      break;
    default:
      page = (
        <div>
          <h1>Not found</h1>
          <p>
            No page at <code>#/{route.path}</code>. <a href="#/">Back to the overview</a>.
          </p>
        </div>
      );
  }
  return (
    <div class="layout">
      <nav class="nav">
        <a class="brand" href="#/">
          <svg viewBox="0 0 16 16" width="20" height="20" aria-hidden="true">
            <path d="M1 10c3-4 5 2 7-2s4-4 7 0" fill="none" stroke="currentColor" stroke-width="2" />
          </svg>
          Moldau
        </a>
        {sections.map(([id, label, pages]) => (
          <a
            key={id}
            href={id === "overview" ? "#/" : "#/" + id}
            data-testid={"nav-" + id}
            class={pages.includes(route.page) ? "active" : ""}
            aria-current={pages.includes(route.page) ? "page" : undefined}
          >
            {label}
          </a>
        ))}
      </nav>
      <main class="main">
        <ErrorBanner />
        {page}
      </main>
    </div>
  );
}

render(<App />, document.getElementById("root")!);
