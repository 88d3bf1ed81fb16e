// Run once by docker-compose.yml's mongo-init, as root: initiates the replica set if it is not,
// waits until it has a primary, then creates (or updates) the services' user from the
// `mongodb_url` secret, with read and write on the services' databases and nothing else.
// Running it again changes nothing but the password, if the secret's changed.
const fs = require("fs");
const MEMBERS = ["mongo1:27017", "mongo2:27017", "mongo3:27017"];
const DATABASES = ["alarms", "patrols", "notifications", "reporting"].map((s) => `safecampus_${s}`);
const WAIT_FOR_PRIMARY_S = 120;

function initiate() {
  try {
    rs.status();
    print("replica set rs0 already initiated");
  } catch (e) {
    if (e.codeName !== "NotYetInitialized") throw e;
    rs.initiate({ _id: "rs0", members: MEMBERS.map((host, i) => ({ _id: i, host })) });
    print("replica set rs0 initiated");
  }
}

function waitForPrimary() {
  for (let waited = 0; waited < WAIT_FOR_PRIMARY_S; waited++) {
    const primary = rs.status().members.find((m) => m.stateStr === "PRIMARY");
    if (primary) {
      print(`primary: ${primary.name}`);
      return;
    }
    sleep(1000);
  }
  throw new Error(`no primary after ${WAIT_FOR_PRIMARY_S} s`);
}

function servicesUser() {
  const url = new URL(fs.readFileSync("/run/secrets/mongodb_url", "utf8").trim());
  if (!url.username || !url.password) throw new Error("the mongodb_url secret names no user");
  return { user: decodeURIComponent(url.username), pwd: decodeURIComponent(url.password) };
}

initiate();
waitForPrimary();
const { user, pwd } = servicesUser();
const roles = DATABASES.map((db) => ({ role: "readWrite", db }));
const admin = db.getSiblingDB("admin");
if (admin.getUser(user)) {
  admin.updateUser(user, { pwd, roles });
  print(`user ${user} updated`);
} else {
  admin.createUser({ user, pwd, roles });
  print(`user ${user} created`);
}
