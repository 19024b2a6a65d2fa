// A stand-in for the desktop's tray, for the end-to-end tests: Xvfb has no
// panel, so nothing would show the app's tray icon. On Linux the icon is a
// StatusNotifierItem (libayatana-appindicator, loaded by the tray-icon crate):
// the app exports the item and its menu (com.canonical.dbusmenu) on its
// session-bus connection and announces them to whoever owns
// `org.kde.StatusNotifierWatcher`. This module owns that name on the test's
// session bus and plays the panel: it records the items, reads their
// properties and menus, and clicks menu entries the way a panel does.
//
//   const sni = await startStatusNotifierWatcher();   // before the app starts
//   const item = await sni.waitForItem();             // {id, sender, path, service}
//   const menu = await sni.menuLayout(item);           // [{id, label, enabled, type, children}]
//   await sni.clickMenuItem(item, menu[2].id);
//   await sni.stop();
//
// The watcher follows the freedesktop/KDE StatusNotifierWatcher interface:
// RegisterStatusNotifierItem(s), RegisterStatusNotifierHost(s), the properties
// RegisteredStatusNotifierItems (as), IsStatusNotifierHostRegistered (b, true:
// this process is the host) and ProtocolVersion (i, 0), and the signals
// StatusNotifierItemRegistered(s), StatusNotifierItemUnregistered(s),
// StatusNotifierHostRegistered(). An item that registers with an object path
// (libayatana-appindicator does: "/org/ayatana/NotificationItem/<id>") is at
// that path on the caller's connection; one that registers with a bus name is
// at /StatusNotifierItem on that name. Items whose connection leaves the bus
// are dropped (NameOwnerChanged), as a real watcher does.

import { EventEmitter } from 'node:events';
import { Message, MessageType, NameFlag, RequestNameReply, Variant, sessionBus } from '@jellybrick/dbus-next';
import { waitFor } from './harness.mjs';

export const WATCHER_NAME = 'org.kde.StatusNotifierWatcher';
export const WATCHER_PATH = '/StatusNotifierWatcher';
const WATCHER_IFACE = 'org.kde.StatusNotifierWatcher';
const ITEM_IFACE = 'org.kde.StatusNotifierItem';
const MENU_IFACE = 'com.canonical.dbusmenu';
const PROPS_IFACE = 'org.freedesktop.DBus.Properties';

const INTROSPECTION = `<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node>
  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect"><arg name="xml" type="s" direction="out"/></method>
  </interface>
  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get"><arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="v" direction="out"/></method>
    <method name="GetAll"><arg type="s" direction="in"/><arg type="a{sv}" direction="out"/></method>
  </interface>
  <interface name="${WATCHER_IFACE}">
    <method name="RegisterStatusNotifierItem"><arg name="service" type="s" direction="in"/></method>
    <method name="RegisterStatusNotifierHost"><arg name="service" type="s" direction="in"/></method>
    <property name="RegisteredStatusNotifierItems" type="as" access="read"/>
    <property name="IsStatusNotifierHostRegistered" type="b" access="read"/>
    <property name="ProtocolVersion" type="i" access="read"/>
    <signal name="StatusNotifierItemRegistered"><arg type="s"/></signal>
    <signal name="StatusNotifierItemUnregistered"><arg type="s"/></signal>
    <signal name="StatusNotifierHostRegistered"/>
    <signal name="StatusNotifierHostUnregistered"/>
  </interface>
</node>`;

/** Plain JavaScript values out of dbus-next's Variants (recursively). */
export function unwrap(value) {
  if (value instanceof Variant) return unwrap(value.value);
  if (Array.isArray(value)) return value.map(unwrap);
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrap(v)]));
  }
  return value;
}

/** A dbusmenu layout node ([id, {props}, [children as variants]]) as {id, label, enabled, visible, type, children}. */
function menuNode([id, props, children]) {
  const p = unwrap(props);
  return {
    id,
    // dbusmenu leaves out properties at their default (enabled true, visible true, type "standard").
    label: p.label ?? '',
    enabled: p.enabled ?? true,
    visible: p.visible ?? true,
    type: p.type ?? 'standard',
    props: p,
    children: (children || []).map((c) => menuNode(c instanceof Variant ? c.value : c)),
  };
}

/**
 * Owns org.kde.StatusNotifierWatcher on the session bus at `address` (default:
 * this process's DBUS_SESSION_BUS_ADDRESS, which the harness hands to the app)
 * and resolves once the name is ours. Throws if someone else owns it.
 */
export async function startStatusNotifierWatcher({ address = process.env.DBUS_SESSION_BUS_ADDRESS } = {}) {
  if (!address) throw new Error('no DBUS_SESSION_BUS_ADDRESS: run inside dbus-run-session (scripts/e2e.sh does)');
  const bus = sessionBus({ busAddress: address });
  const events = new EventEmitter();
  /** Registered items by their registration string ("<unique name><path>" or a bus name). */
  const items = new Map();
  const hosts = new Set();
  /** Every call the watcher answered: {member, sender, args} (what the app's library really asks). */
  const calls = [];

  const signal = (member, signature = '', body = []) => {
    bus.send(Message.newSignal(WATCHER_PATH, WATCHER_IFACE, member, signature, body));
  };
  const properties = () => ({
    RegisteredStatusNotifierItems: new Variant('as', [...items.keys()]),
    IsStatusNotifierHostRegistered: new Variant('b', true),
    ProtocolVersion: new Variant('i', 0),
  });

  bus.addMethodHandler((msg) => {
    if (msg.path !== WATCHER_PATH && msg.path !== '/') return false;
    const reply = (signature = '', body = []) => bus.send(Message.newMethodReturn(msg, signature, body));
    const fail = (name, text) => bus.send(Message.newError(msg, name, text));
    calls.push({ member: `${msg.interface || ''}.${msg.member}`, sender: msg.sender, args: unwrap(msg.body || []) });
    if (msg.member === 'Introspect') {
      reply('s', [msg.path === '/' ? `<node><node name="${WATCHER_PATH.slice(1)}"/></node>` : INTROSPECTION]);
      return true;
    }
    if (msg.path !== WATCHER_PATH) return false;
    if (msg.interface === PROPS_IFACE && msg.member === 'Get') {
      const [iface, name] = msg.body;
      const value = iface === WATCHER_IFACE ? properties()[name] : undefined;
      if (!value) fail('org.freedesktop.DBus.Error.UnknownProperty', `no property ${iface}.${name}`);
      else reply('v', [value]);
      return true;
    }
    if (msg.interface === PROPS_IFACE && msg.member === 'GetAll') {
      reply('a{sv}', [msg.body[0] === WATCHER_IFACE ? properties() : {}]);
      return true;
    }
    if (msg.interface === PROPS_IFACE && msg.member === 'Set') {
      fail('org.freedesktop.DBus.Error.PropertyReadOnly', 'the watcher\'s properties are read-only');
      return true;
    }
    if (msg.member === 'RegisterStatusNotifierItem' && msg.signature === 's') {
      const [service] = msg.body;
      const path = service.startsWith('/') ? service : '/StatusNotifierItem';
      const owner = service.startsWith('/') ? msg.sender : service;
      const key = service.startsWith('/') ? `${msg.sender}${service}` : service;
      const item = { key, service: owner, sender: msg.sender, path, registeredAt: Date.now() };
      items.set(key, item);
      reply();
      signal('StatusNotifierItemRegistered', 's', [key]);
      events.emit('registered', item);
      return true;
    }
    if (msg.member === 'RegisterStatusNotifierHost' && msg.signature === 's') {
      hosts.add(msg.body[0]);
      reply();
      signal('StatusNotifierHostRegistered');
      return true;
    }
    fail('org.freedesktop.DBus.Error.UnknownMethod', `no method ${msg.interface}.${msg.member} on ${WATCHER_PATH}`);
    return true;
  });

  // Items (and hosts) leave with their connection.
  bus.on('message', (msg) => {
    if (msg.type !== MessageType.SIGNAL || msg.interface !== 'org.freedesktop.DBus' || msg.member !== 'NameOwnerChanged') return;
    const [name, oldOwner, newOwner] = msg.body;
    if (newOwner !== '') return;
    for (const [key, item] of items) {
      if (item.sender === oldOwner || item.service === name) {
        items.delete(key);
        signal('StatusNotifierItemUnregistered', 's', [key]);
        events.emit('unregistered', item);
      }
    }
    if (hosts.delete(name)) signal('StatusNotifierHostUnregistered');
  });

  const call = async (destination, path, iface, member, signature = '', body = []) => {
    const r = await bus.call(new Message({ destination, path, interface: iface, member, signature, body }));
    return r ? r.body : [];
  };

  /** The object path of an item's menu (its Menu property). */
  const menuPath = async (item) => unwrap(await call(item.service, item.path, PROPS_IFACE, 'Get', 'ss', [ITEM_IFACE, 'Menu']))[0];

  await call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'AddMatch', 's',
    ["type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged'"]);
  const got = await bus.requestName(WATCHER_NAME, NameFlag.DO_NOT_QUEUE);
  if (got !== RequestNameReply.PRIMARY_OWNER) {
    bus.disconnect();
    throw new Error(`could not own ${WATCHER_NAME} (RequestName answered ${got}): another tray host runs on this bus`);
  }
  hosts.add(bus.name);

  const sni = {
    bus,
    events,
    calls,
    /** This connection's unique name. */
    get uniqueName() { return bus.name; },
    /** The registered items, oldest first. */
    items: () => [...items.values()],

    /** Waits for a registered item that `filter` accepts (default: any); resolves to it. */
    waitForItem: ({ filter = () => true, timeout = 20_000 } = {}) => waitFor(
      () => [...items.values()].find(filter),
      { timeout, message: `a StatusNotifierItem to register with ${WATCHER_NAME}` },
    ),

    /** Waits until no registered item matches `filter`. */
    waitForNoItem: ({ filter = () => true, timeout = 10_000 } = {}) => waitFor(
      () => ![...items.values()].some(filter),
      { timeout, message: 'the StatusNotifierItem to be unregistered' },
    ),

    /** A low-level method call; resolves to the reply's body (rejects with the D-Bus error). */
    call,

    /** The item's org.kde.StatusNotifierItem properties, as plain values (GetAll, like a panel). */
    itemProperties: async (item) => unwrap((await call(item.service, item.path, PROPS_IFACE, 'GetAll', 's', [ITEM_IFACE]))[0]),

    /** Its menu, as a panel reads it before showing it: AboutToShow(0), then GetLayout(0, -1, []). Resolves to the root's children. */
    menuLayout: async (item) => {
      const path = await menuPath(item);
      await call(item.service, path, MENU_IFACE, 'AboutToShow', 'i', [0]).catch(() => {});
      const [revision, root] = await call(item.service, path, MENU_IFACE, 'GetLayout', 'iias', [0, -1, []]);
      const tree = menuNode(root);
      tree.revision = revision;
      return tree.children;
    },

    /** Clicks a menu entry: com.canonical.dbusmenu.Event(id, "clicked", <int32 0>, timestamp), as a panel does. */
    clickMenuItem: async (item, id) => {
      const path = await menuPath(item);
      await call(item.service, path, MENU_IFACE, 'Event', 'isvu', [id, 'clicked', new Variant('i', 0), Math.floor(Date.now() / 1000) >>> 0]);
    },

    /** PID of the process behind a connection (org.freedesktop.DBus.GetConnectionUnixProcessID). */
    connectionPid: async (uniqueName) => (await call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
      'GetConnectionUnixProcessID', 's', [uniqueName]))[0],

    /** Releases the name and disconnects. */
    stop: async () => {
      try { await bus.releaseName(WATCHER_NAME); } catch { /* already gone */ }
      bus.disconnect();
    },
  };
  return sni;
}
