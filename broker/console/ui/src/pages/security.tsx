// Security (#/security): ACLs and SCRAM users.
import { useState } from "preact/hooks";
import { type Acls, type Users, usePoll } from "../api";
import { Badge, Empty, Loading } from "../components";

export function SecurityPage() {
  const { data: acls } = usePoll<Acls>("/api/acls");
  const { data: users } = usePoll<Users>("/api/users");
  const [filter, setFilter] = useState("");
  const f = filter.toLowerCase();
  const rows = (acls?.acls ?? []).filter((a) => [a.principal, a.resource_name, a.resource_type, a.operation].some((x) => x.toLowerCase().includes(f)));
  return (
    <div>
      <h1>Security</h1>
      <h2>ACLs</h2>
      {!acls ? (
        <Loading />
      ) : !acls.enabled ? (
        <Empty testid="acls-disabled">
          <p>
            <strong>ACLs are off:</strong> the broker has no authorizer, so every client that connects (and authenticates, where SASL is on) may do everything.
          </p>
        </Empty>
      ) : (
        <>
          <div class="toolbar">
            <input type="search" placeholder="Filter ACLs" aria-label="Filter ACLs" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
            <span class="muted small">{acls.acls.length} ACLs</span>
          </div>
          {rows.length === 0 ? (
            <Empty>{acls.acls.length === 0 ? "No ACLs." : "No ACL matches."}</Empty>
          ) : (
            <div class="table-wrap">
              <table data-testid="acls-table">
                <thead>
                  <tr>
                    <th>Principal</th>
                    <th>Host</th>
                    <th>Resource</th>
                    <th>Pattern</th>
                    <th>Operation</th>
                    <th>Permission</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((a, i) => (
                    <tr key={i} data-testid="acl-row" data-principal={a.principal}>
                      <td>
                        <code>{a.principal}</code>
                      </td>
                      <td>{a.host}</td>
                      <td>
                        {a.resource_type} <code>{a.resource_name}</code>
                      </td>
                      <td>{a.pattern_type}</td>
                      <td>{a.operation}</td>
                      <td>
                        <Badge kind={a.permission.toUpperCase() === "DENY" ? "bad" : "ok"}>{a.permission}</Badge>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
      <h2>SCRAM users</h2>
      {!users ? (
        <Loading />
      ) : users.users.length === 0 ? (
        <Empty testid="users-empty">No SCRAM users (SASL/SCRAM is not enabled or no credentials are stored).</Empty>
      ) : (
        <div class="table-wrap">
          <table data-testid="users-table">
            <thead>
              <tr>
                <th>User</th>
                <th>Mechanisms</th>
              </tr>
            </thead>
            <tbody>
              {[...users.users]
                .sort((a, b) => a.user.localeCompare(b.user))
                .map((u) => (
                  <tr key={u.user} data-testid="user-row" data-user={u.user}>
                    <td>
                      <code>{u.user}</code>
                    </td>
                    <td>
                      {u.mechanisms.map((m) => (
                        <Badge key={m.mechanism} kind="info" title={`${m.iterations} iterations`}>
                          {m.mechanism} ({m.iterations})
                        </Badge>
                      ))}
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
