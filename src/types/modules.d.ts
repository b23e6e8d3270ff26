declare module '*.wgsl' {
  const source: string;
  export default source;
}

declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
