/**
 * The demo tenant `npm start` seeds: one domain with users covering each user type and the
 * special accounts (protected, locked, disabled). Initial passwords here are demo data only.
 */
export const DEMO_TENANT_ID = "8f0d2c2e-5a7b-4c1d-9e3f-1a2b3c4d5e6f";
export const DEMO_DOMAIN = "contoso.local";
export const DEMO_BASE_DN = "DC=contoso,DC=local";
export const DEMO_INITIAL_PASSWORD = "Welcome-2026!";

export interface DemoUser {
  sAMAccountName: string;
  displayName: string;
  userPrincipalName: string;
  cloudAnchor: string;
  authType: "passwordHashSync" | "federated" | "passThrough" | "cloudOnly";
  objectGuid: string;
  adminCount?: 1;
  disabled?: boolean;
  /** Locked out at start (bad passwords up to the lockout threshold). */
  locked?: boolean;
}

export const DEMO_USERS: readonly DemoUser[] = [
  { sAMAccountName: "alice", displayName: "Alice Anders", userPrincipalName: "alice@contoso.com", cloudAnchor: "User_0a1b2c3d-0001-4000-8000-000000000001", authType: "passwordHashSync", objectGuid: "6b1f0e2a-0001-4a00-8b00-00000000a001" },
  { sAMAccountName: "bob", displayName: "Bob Berg", userPrincipalName: "bob@contoso.com", cloudAnchor: "User_0a1b2c3d-0002-4000-8000-000000000002", authType: "federated", objectGuid: "6b1f0e2a-0002-4a00-8b00-00000000a002" },
  { sAMAccountName: "carol", displayName: "Carol Chen", userPrincipalName: "carol@contoso.com", cloudAnchor: "User_0a1b2c3d-0003-4000-8000-000000000003", authType: "passThrough", objectGuid: "6b1f0e2a-0003-4a00-8b00-00000000a003" },
  { sAMAccountName: "dave", displayName: "Dave Diaz", userPrincipalName: "dave@contoso.onmicrosoft.com", cloudAnchor: "User_0a1b2c3d-0004-4000-8000-000000000004", authType: "cloudOnly", objectGuid: "6b1f0e2a-0004-4a00-8b00-00000000a004" },
  { sAMAccountName: "eve.admin", displayName: "Eve Admin", userPrincipalName: "eve.admin@contoso.com", cloudAnchor: "User_0a1b2c3d-0005-4000-8000-000000000005", authType: "passwordHashSync", objectGuid: "6b1f0e2a-0005-4a00-8b00-00000000a005", adminCount: 1 },
  { sAMAccountName: "frank", displayName: "Frank Fox", userPrincipalName: "frank@contoso.com", cloudAnchor: "User_0a1b2c3d-0006-4000-8000-000000000006", authType: "passwordHashSync", objectGuid: "6b1f0e2a-0006-4a00-8b00-00000000a006", locked: true },
  { sAMAccountName: "grace", displayName: "Grace Gray", userPrincipalName: "grace@contoso.com", cloudAnchor: "User_0a1b2c3d-0007-4000-8000-000000000007", authType: "federated", objectGuid: "6b1f0e2a-0007-4a00-8b00-00000000a007", disabled: true },
];

/** A demo user by sAMAccountName (throws for an unknown one: a typo in a test or a banner). */
export function demoUser(sAMAccountName: string): DemoUser {
  const u = DEMO_USERS.find((x) => x.sAMAccountName === sAMAccountName);
  if (u === undefined) throw new Error(`no demo user ${sAMAccountName}`);
  return u;
}

/** The API's `user` object for a demo user. */
export function userRef(u: Pick<DemoUser, "cloudAnchor" | "userPrincipalName" | "authType">): { cloudAnchor: string; userPrincipalName: string; authType: DemoUser["authType"] } {
  return { cloudAnchor: u.cloudAnchor, userPrincipalName: u.userPrincipalName, authType: u.authType };
}

/**
 * Extra password-hash-sync users for load runs (bench, load tests): load-00001 … with
 * deterministic anchors and GUIDs, so a caller can address them without a lookup.
 */
export function loadUsers(count: number): DemoUser[] {
  return Array.from({ length: count }, (_, i) => {
    const n = String(i + 1).padStart(5, "0");
    const hex = (i + 1).toString(16).padStart(12, "0");
    return { sAMAccountName: `load-${n}`, displayName: `Load User N${n}`, userPrincipalName: `load-${n}@contoso.com`, cloudAnchor: `User_10ad0000-0000-4000-8000-${hex}`, authType: "passwordHashSync", objectGuid: `10ad0000-0000-4a00-8b00-${hex}` };
  });
}

export const DEMO_POLICY = {
  minLength: 8,
  complexity: true,
  historyLength: 5,
  minAgeSeconds: 0,
  maxAgeSeconds: 0,
  lockoutThreshold: 5,
  lockoutDurationSeconds: 1800,
  lockoutObservationWindowSeconds: 1800,
};

function dn(u: DemoUser): string {
  return `CN=${u.displayName},OU=Staff,${DEMO_BASE_DN}`;
}

/** The embedded directory's seed (cloud-only users have no AD account). */
export function demoDirectorySeed(extraUsers: readonly DemoUser[] = []): unknown {
  return {
    domains: [
      {
        domain: DEMO_DOMAIN,
        policy: DEMO_POLICY,
        users: [...DEMO_USERS, ...extraUsers].filter((u) => u.authType !== "cloudOnly").map((u) => ({
          sAMAccountName: u.sAMAccountName,
          displayName: u.displayName,
          userPrincipalName: u.userPrincipalName,
          distinguishedName: dn(u),
          objectGuid: u.objectGuid,
          password: DEMO_INITIAL_PASSWORD,
          ...(u.adminCount === undefined ? {} : { adminCount: u.adminCount }),
          ...(u.disabled === true ? { disabled: true } : {}),
          ...(u.locked === true ? { lockedOut: true } : {}),
          passwordNeverExpires: true,
        })),
      },
    ],
  };
}

/** Where a demo user's AD account lives when it is not the embedded directory's (a Samba DC's objectGUID and DN). */
export interface DemoAdAccount {
  objectGuid: string;
  distinguishedName: string;
}

/**
 * The sync store's connector spaces and links, as Entra Connect would have them. With
 * `directory`, the AD side is that domain's accounts (by sAMAccountName) instead of the
 * embedded directory's fixed GUIDs and DNs; the cloud side stays the same.
 */
export function demoSyncObjects(
  extraUsers: readonly DemoUser[] = [],
  directory?: { domain: string; accounts: ReadonlyMap<string, DemoAdAccount> },
): { connector: string; anchor: string; metaverseId?: string; linkRules?: string[]; domain?: string; distinguishedName?: string }[] {
  const domain = directory?.domain ?? DEMO_DOMAIN;
  const account = (u: DemoUser): DemoAdAccount => {
    if (directory === undefined) return { objectGuid: u.objectGuid, distinguishedName: dn(u) };
    const a = directory.accounts.get(u.sAMAccountName);
    if (a === undefined) throw new Error(`no AD account for the demo user ${u.sAMAccountName} in ${domain}`);
    return a;
  };
  return [...DEMO_USERS, ...extraUsers].filter((u) => u.authType !== "cloudOnly").flatMap((u) => {
    const a = account(u);
    return [
      { connector: "aad", anchor: u.cloudAnchor, metaverseId: `mv-${u.sAMAccountName}` },
      {
        connector: domain,
        anchor: a.objectGuid,
        metaverseId: `mv-${u.sAMAccountName}`,
        linkRules: [`Microsoft.InfromADUserAccountEnabled.${domain}`],
        domain,
        distinguishedName: a.distinguishedName,
      },
    ];
  });
}
