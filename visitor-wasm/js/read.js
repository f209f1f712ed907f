// What the walk needs of an element in one call (`src/read.rs` reads the
// packing): flags, local name, namespace, then attribute names and values,
// separated by NUL. Kept small: the dist step folds it into the glue.
// Element.prototype's own functions and getters, not the element's
// properties: a <form> exposes its controls by name over them (a control
// named "matches" or "localName" would otherwise answer for the form).
const cobrowseProto = Element.prototype;
const cobrowseMatches = cobrowseProto.matches;
const cobrowseGetter = (name) => Object.getOwnPropertyDescriptor(cobrowseProto, name).get;
const cobrowseLocalName = cobrowseGetter("localName");
const cobrowseNamespace = cobrowseGetter("namespaceURI");
const cobrowseAttributes = cobrowseGetter("attributes");

export function cobrowseReadElement(el, mask, unmask, block) {
  const is = (selector) => {
    try {
      return cobrowseMatches.call(el, selector);
    } catch (e) {
      return false;
    }
  };
  const ns = cobrowseNamespace.call(el);
  const name = cobrowseLocalName.call(el);
  let flags = is(mask) ? 1 : is(unmask) ? 2 : 0;
  if (is(block)) flags |= 4;
  let attrs = "";
  const html = ns === null || ns === "http://www.w3.org/1999/xhtml";
  const lower = html ? name.toLowerCase() : "";
  if (flags & 4 || lower === "input" || lower === "textarea") {
    flags |= 8;
  } else {
    const list = cobrowseAttributes.call(el);
    for (let i = 0; i < list.length; i++) {
      const a = list[i];
      const n = a.name;
      const v = a.value;
      if (n.indexOf("\0") >= 0 || v.indexOf("\0") >= 0) {
        flags |= 8;
        attrs = "";
        break;
      }
      attrs += "\0" + n + "\0" + v;
    }
  }
  return String.fromCharCode(64 + flags) + name + "\0" + (ns === null ? "" : ns) + attrs;
}
